"""Entry point for `celery -A tasks.worker worker` / `beat`: builds the app from the ini file
named by KARIYA_INI (default development.ini), which configures `celery_app`."""

import os

from pyramid.paster import get_appsettings, setup_logging

from kariya import make_config
from tasks import celery_app

_ini = os.environ.get("KARIYA_INI", "development.ini")
setup_logging(_ini)
make_config(get_appsettings(_ini))

app = celery_app
