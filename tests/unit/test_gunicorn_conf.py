"""DESIGN §5, I-9 (issue 16): the app is served as `gunicorn --paste INI -w 2 -b HOST:PORT` from
the project root, and gunicorn.conf.py there makes its workers threaded, so that the rush's group
commit has many acquisitions in flight a process (with sync workers every batch is of one)."""

from __future__ import annotations

import subprocess
import sys

from kariya.settings import PROJECT_ROOT


def served_config() -> dict[str, str]:
    """gunicorn's settings for the command DESIGN §5 gives, as gunicorn itself reads them."""
    done = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--print-config", "--paste", "development.ini"]
        + ["-w", "2", "-b", "127.0.0.1:0"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    settings = {}
    for line in done.stdout.splitlines():
        name, sep, value = line.partition("=")
        if sep:
            settings[name.strip()] = value.strip()
    return settings


def test_the_served_app_runs_threaded_workers():
    settings = served_config()
    assert settings["worker_class"] == "gthread"
    assert int(settings["threads"]) == 32  # the rush's measured best (README)
    assert settings["workers"] == "2"
