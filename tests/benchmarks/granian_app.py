"""The WSGI application for granian (serving.granian): the paste ini named by KARIYA_GRANIAN_INI,
loaded once per worker process, as gunicorn's `--paste` does; the worker then leaves its ready
file, as gunicorn's post_worker_init hook does (serving.py)."""

from __future__ import annotations

import os
from pathlib import Path

from paste.deploy import loadapp

from tests.benchmarks.serving import GRANIAN_INI_ENV, READY_DIR_ENV


def _load():
    application = loadapp("config:" + os.environ[GRANIAN_INI_ENV])
    ready_dir = os.environ.get(READY_DIR_ENV)
    if ready_dir:
        Path(ready_dir, str(os.getpid())).touch()
    return application


app = _load() if GRANIAN_INI_ENV in os.environ else None
