"""Private PostgreSQL and Redis servers, the app under gunicorn and a real Celery worker, for the
fault tests (test_faults.py): stopping, restarting and killing these touches nobody else's
tests. The machine's shared PostgreSQL (5432) and Redis (6379) are never stopped.

PostgreSQL is a throwaway cluster (`initdb`, `pg_ctl` from /usr/lib/postgresql/*/bin) in a
temporary directory on a free port, run as the `postgres` user when the tests run as root
(initdb refuses root). It runs with fsync off (a crash here is a killed server process, never a
lost OS page cache, so nothing committed is lost even then) and checks every 500 ms whether the
client of a running statement is still there, so that a SIGKILLed worker's transaction ends at
once instead of when its statement would have finished.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from kariya.settings import PROJECT_ROOT
from tests.benchmarks.serving import child_env, free_port, tail

PG_BINS = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
PG_BIN = Path(PG_BINS[-1]) if PG_BINS else None
REDIS_SERVER = shutil.which("redis-server")
SESSION_SECRET = "faults-test-session-secret-0123456789abcdef"


def missing() -> str | None:
    """Why the private servers cannot run here, or None."""
    if PG_BIN is None or not (PG_BIN / "initdb").exists() or not (PG_BIN / "pg_ctl").exists():
        return "initdb/pg_ctl not found under /usr/lib/postgresql/*/bin (install postgresql)"
    if REDIS_SERVER is None:
        return "redis-server not found on PATH (install redis-server)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run initdb as"
    return None


def _as_owner(command: list[str]) -> list[str]:
    """initdb and the server refuse to run as root: run them as postgres then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


class PrivatePostgres:
    """A PostgreSQL cluster of its own in a temporary directory, on a free port."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="kariya-faults-pg-"))
        if os.geteuid() == 0:
            os.chown(self.root, pwd.getpwnam("postgres").pw_uid, -1)
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        done = subprocess.run(
            _as_owner(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                    "--no-sync",
                ]
            ),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{done.stdout}\n{done.stderr}")

    def _ctl(self, *args: str, timeout: float = 60) -> None:
        done = subprocess.run(
            _as_owner([str(PG_BIN / "pg_ctl"), "-D", str(self.data), *args]),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl {args[-1]} failed:\n{done.stderr}\n{tail(self.log)}")

    def start(self) -> None:
        options = [
            f"-p {self.port}",
            f"-k {self.root}",
            "-c listen_addresses=127.0.0.1",
            "-c fsync=off",
            "-c full_page_writes=off",
            "-c shared_buffers=32MB",
            "-c max_connections=60",
            "-c client_connection_check_interval=500",
        ]
        self._ctl("-l", str(self.log), "-o", " ".join(options), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """`immediate` is a crash: the server processes quit at once, without a checkpoint, and
        the next start recovers from the WAL."""
        self._ctl("-m", mode, "-w", "-t", "60", "stop")

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str, database: str = "postgres") -> None:
        engine = sa.create_engine(self.url(database), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(sa.text(sql))
        finally:
            engine.dispose()

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """A redis-server of its own on a free port, in memory only (nothing survives a restart)."""

    def __init__(self):
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="kariya-faults-redis-"))
        self.proc: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no", "--dir", str(self.root), "--daemonize", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while True:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock,
            ):
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def kill(self) -> None:
        """Stopped dead (SIGKILL): every session, counter and queued task it held is gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def freeze(self) -> None:
        """Still listening but answering nothing (a hung server, a network partition)."""
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def destroy(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
        self.kill()
        shutil.rmtree(self.root, ignore_errors=True)


LOGGING = """
[loggers]
keys = root, kariya, gunicorn

[handlers]
keys = console

[formatters]
keys = plain

[logger_root]
level = WARN
handlers = console

[logger_kariya]
level = WARN
handlers =
qualname = kariya

[logger_gunicorn]
level = INFO
handlers =
qualname = gunicorn.error

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = plain

[formatter_plain]
format = %(asctime)s %(process)d %(levelname)s [%(name)s] %(message)s
"""


def write_ini(path: Path, database_url: str, redis_url: str, broker_url: str, **extra) -> Path:
    """A paste ini for gunicorn, the Celery worker and the CLI against the private servers."""
    settings = {
        "use": "egg:kariya",
        "kariya.environment": "test",
        "sqlalchemy.url": database_url,
        "sqlalchemy.pool_size": "4",
        "sqlalchemy.max_overflow": "0",
        "sqlalchemy.pool_timeout": "30",
        "kariya.redis_url": redis_url,
        "kariya.session_secret": SESSION_SECRET,
        "kariya.public_url": "http://localhost",
        "kariya.clock": "settable",
        "kariya.line.simulator": "true",
        "celery.broker_url": broker_url,
        "celery.always_eager": "false",
        "kariya.inprocess_beat_seconds": "0",
        "retry.attempts": "3",
        "tm.manager_hook": "pyramid_tm.explicit_manager",
        **{key.replace("__", "."): str(value) for key, value in extra.items()},
    }
    lines = ["[app:main]"] + [f"{key} = {value}" for key, value in settings.items()]
    path.write_text("\n".join(lines) + "\n" + LOGGING)
    return path


def children(pid: int) -> list[int]:
    """The pids of a process's children (Linux /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(p) for p in (task / "children").read_text().split()]
    return found


def parent(pid: int) -> int | None:
    """The parent pid of a living process, or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rpartition(")")[2].split()[1])


class CeleryWorker:
    """`celery -A tasks.worker worker` as production runs it (prefork, here one child), reading
    `ini`; its log is kept beside the ini."""

    def __init__(self, ini: Path, name: str = "faults"):
        self.ini = ini
        self.log = ini.with_name(f"celery-{name}-{time.monotonic_ns()}.log")
        self.name = name
        self.proc: subprocess.Popen | None = None

    def launch(self) -> CeleryWorker:
        """Start the worker without waiting for it (it takes seconds to load the app)."""
        celery = str(Path(sys.executable).with_name("celery"))
        command = [celery, "-A", "tasks.worker", "worker", "--pool", "prefork"]
        command += ["--concurrency", "1", "--loglevel", "info", "--hostname", f"{self.name}@%h"]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                command,
                cwd=PROJECT_ROOT,
                env=child_env(KARIYA_INI=str(self.ini)),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def ready(self, timeout: float = 90) -> CeleryWorker:
        """Wait until the worker consumes from the broker."""
        deadline = time.monotonic() + timeout
        while b"ready." not in self.log.read_bytes():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the Celery worker did not start:\n{tail(self.log)}")
            time.sleep(0.1)
        return self

    def start(self) -> CeleryWorker:
        return self.launch().ready()

    def pool_children(self) -> list[int]:
        return children(self.proc.pid)

    def kill_all(self) -> None:
        """SIGKILL to the whole worker, main process and pool alike (a lost machine)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


@contextlib.contextmanager
def running(thing) -> Iterator:
    try:
        yield thing
    finally:
        thing.stop()
