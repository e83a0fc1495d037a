"""DESIGN §5, I-9 (issue 16): the app is served as `gunicorn --paste INI -w 2 -b HOST:PORT` from
the project root, and gunicorn.conf.py there makes its workers threaded, so that the rush's group
commit has many acquisitions in flight a process (with sync workers every batch is of one)."""

from __future__ import annotations

import subprocess
import sys

from kariya.settings import PROJECT_ROOT


def served_config(*options: str) -> dict[str, str]:
    """gunicorn's settings for the command DESIGN §5 gives (with `options` added), as gunicorn
    itself reads them."""
    done = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--print-config", *options, "--paste", "development.ini"]
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


def test_each_worker_listens_on_a_socket_of_its_own():
    """SO_REUSEPORT: the kernel spreads the connections over the workers; with one socket shared
    one worker took 214 of the rush's 256 (README, "The weekly rush"). The benchmarks and the
    fault tests, served with a config module of their own, take production's choice."""
    assert served_config()["reuse_port"] == "True"
    # The config module the benchmarks and the fault tests serve with (tests/benchmarks/serving).
    assert served_config("--config", "python:tests.benchmarks.serving")["reuse_port"] == "True"
