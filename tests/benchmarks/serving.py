"""Serving the app for the benchmarks and the fault tests: gunicorn (or, for the side-by-side
runs, granian) on a free port of 127.0.0.1, started in its own process group and always stopped. This module doubles as gunicorn's config
module (its `post_worker_init` hook tells when every worker has loaded the app).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import runpy
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from kariya.settings import ENV_OVERRIDES, PROJECT_ROOT

READY_DIR_ENV = "KARIYA_BENCH_READY_DIR"
GRANIAN_INI_ENV = "KARIYA_GRANIAN_INI"  # the ini granian_app.py loads


def post_worker_init(worker: object) -> None:
    """gunicorn hook (rush.py doubles as gunicorn's config module): a worker has loaded the
    app; leave a file named by its pid so that the run starts only when every worker is ready."""
    ready_dir = os.environ.get(READY_DIR_ENV)
    if ready_dir:
        Path(ready_dir, str(getattr(worker, "pid", os.getpid()))).touch()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(**extra: str) -> dict[str, str]:
    """This environment without the variables that would point the app elsewhere."""
    env = {k: v for k, v in os.environ.items() if k not in ENV_OVERRIDES}
    env.update(extra)
    return env


@dataclasses.dataclass
class Server:
    base_url: str
    worker_pids: list[int]
    log: Path


@contextlib.contextmanager
def serve(
    server: str,
    ini: Path,
    workers: int,
    worker_class: str,
    threads: int,
    workdir: Path,
    deadline: float,
    nice: int = 0,
) -> Iterator[Server]:
    """Serve `ini` under `server` (a key of COMMANDS) on a free port of 127.0.0.1 until the
    block ends: `workers` processes of `threads` threads each. Waits until every worker has
    loaded the app; always stopped (TERM, then KILL of its process group). `nice` > 0 lets the
    instance yield the CPU to the rest of the machine (see lower_priority)."""
    port = free_port()
    command, env = COMMANDS[server](ini, port, workers, worker_class, threads)
    ready_dir = workdir / "ready"
    ready_dir.mkdir()
    log = workdir / f"{server}.log"
    with open(log, "wb") as log_file:
        proc = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=child_env(**{READY_DIR_ENV: str(ready_dir)}, **env),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so that it can be stopped whole
        )
    try:
        if nice:
            lower_priority(proc.pid, nice)
        base_url = f"http://127.0.0.1:{port}"
        wait_ready(proc, base_url, ready_dir, workers, min(deadline, time.monotonic() + 60), log)
        pids = sorted(int(p.name) for p in ready_dir.iterdir())
        if nice:
            for pid in pids:  # a worker forked before the master had its nice
                os.setpriority(os.PRIO_PROCESS, pid, nice)
        yield Server(base_url, pids, log)
    finally:
        stop(proc)


# Production's choice of listening sockets (gunicorn.conf.py), which this module, as the config
# gunicorn reads here, replaces: the rush and the fault tests are served as production is.
reuse_port = runpy.run_path(str(PROJECT_ROOT / "gunicorn.conf.py"))["reuse_port"]


def _gunicorn_command(
    ini: Path, port: int, workers: int, worker_class: str, threads: int
) -> tuple[list[str], dict[str, str]]:
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        "python:tests.benchmarks.serving",
        "--paste",
        str(ini),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        worker_class,
        "--threads",
        str(threads),
        "--backlog",
        "2048",
        "--timeout",
        "60",
        "--graceful-timeout",
        "5",
        "--worker-tmp-dir",
        "/dev/shm",
        "--no-control-socket",  # nothing to manage, and no socket shared with other gunicorns
    ]
    return command, {}


def _granian_command(
    ini: Path, port: int, workers: int, worker_class: str, threads: int
) -> tuple[list[str], dict[str, str]]:
    """granian (a WSGI server whose HTTP side is Rust), for the side-by-side runs of issue 16
    (`rush.py --server granian`): each worker runs the app in `threads` blocking threads;
    `worker_class` is gunicorn's only."""
    del worker_class
    command = [
        str(Path(sys.executable).with_name("granian")),
        "--interface",
        "wsgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--blocking-threads",
        str(threads),
        "--backlog",
        "2048",
        "--no-ws",
        "--log-level",
        "warning",
        "tests.benchmarks.granian_app:app",
    ]
    return command, {GRANIAN_INI_ENV: str(ini.resolve())}


COMMANDS = {"gunicorn": _gunicorn_command, "granian": _granian_command}


def describe(server: str, workers: int, worker_class: str, threads: int) -> str:
    """How an instance is served, for the benchmarks' summaries."""
    if server == "granian":
        return f"granian {workers} workers x {threads} blocking threads"
    per_worker = f" x {threads} threads" if worker_class == "gthread" else ""
    return f"gunicorn {workers} {worker_class}{per_worker} workers"


# The fault tests and the scale-out run serve under gunicorn, as production does.
gunicorn = functools.partial(serve, "gunicorn")


def lower_priority(pid: int, nice: int) -> None:
    """Give the server started as `pid` (its workers are forked later and inherit it) a lower
    CPU priority, as a machine of its own or a container's CPU weight would keep it from
    taking the stores' share. gunicorn runs in a session of its own, and with the kernel's
    autogroup scheduling (Debian's default) CPU is shared between sessions first, where a
    process's nice means nothing: the session's group gets the nice too."""
    os.setpriority(os.PRIO_PROCESS, pid, nice)
    group = Path(f"/proc/{pid}/autogroup")
    if group.exists():
        group.write_text(str(nice))


def wait_ready(
    proc: subprocess.Popen, base_url: str, ready_dir: Path, workers: int, until: float, log: Path
) -> None:
    """Wait until every worker has loaded the app and /healthz/live answers."""
    while time.monotonic() < until:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited ({proc.returncode}):\n{tail(log)}")
        if len(list(ready_dir.iterdir())) >= workers:
            try:
                with urllib.request.urlopen(base_url + "/healthz/live", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
        time.sleep(0.1)
    raise RuntimeError(f"the server did not become ready:\n{tail(log)}")


def stop(proc: subprocess.Popen) -> None:
    """Stop the server: TERM to its main process, KILL to its process group if it lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
