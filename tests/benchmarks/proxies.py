"""PgBouncer and HAProxy for the scale-out benchmark (scaleout.py): each a plain process on a
free port of 127.0.0.1 with a config generated in a directory of the run's, in its own process
group, always stopped. Debian's packages: `apt-get install --no-install-recommends pgbouncer
haproxy` (1.18 and 2.6 in Debian 12); neither is run as a service.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from kariya.settings import PROJECT_ROOT
from tests.benchmarks.serving import free_port, stop, tail


@contextlib.contextmanager
def started(command: list[str], log: Path) -> Iterator[subprocess.Popen]:
    """Run `command` in its own process group, output to `log`; always stopped."""
    with open(log, "wb") as log_file:
        proc = subprocess.Popen(
            command, cwd=PROJECT_ROOT, stdout=log_file, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    try:
        yield proc
    finally:
        stop(proc)


def wait_until(ready, proc: subprocess.Popen, log: Path, name: str, seconds: float = 30) -> None:
    """Poll `ready()` until true; fail if the process exits or the time is up."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited ({proc.returncode}):\n{tail(log)}")
        with contextlib.suppress(OSError, psycopg.Error):
            if ready():
                return
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not become ready:\n{tail(log)}")


@dataclasses.dataclass
class Bouncer:
    port: int
    pool: int
    database: str
    user: str
    version: str

    def admin(self, command: str) -> list[dict]:
        """A SHOW command on PgBouncer's admin console (simple query protocol only)."""
        with psycopg.connect(
            host="127.0.0.1", port=self.port, dbname="pgbouncer", user=self.user,
            autocommit=True, cursor_factory=psycopg.ClientCursor, connect_timeout=5,
        ) as conn:  # fmt: skip
            cur = conn.execute(command)
            names = [c.name for c in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def stats(self) -> dict:
        row = next(r for r in self.admin("SHOW STATS") if r["database"] == self.database)
        xacts = int(row["total_xact_count"])
        return {
            "transactions": xacts,
            "queries": int(row["total_query_count"]),
            "wait_ms_per_xact": round(int(row["total_wait_time"]) / 1000 / xacts, 2)
            if xacts
            else 0,
        }


@contextlib.contextmanager
def pgbouncer(workdir: Path, database_url: str, pool: int, max_clients: int) -> Iterator[Bouncer]:
    """PgBouncer in transaction mode on a free port, `pool` server connections in all to the
    database of `database_url` (PostgreSQL's own). As root it runs as the `postgres` user (it
    refuses to run as root)."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(binary).exists():
        raise RuntimeError("pgbouncer is not installed: apt-get install pgbouncer")
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
    port, target = free_port(), make_url(database_url)
    workdir.mkdir(mode=0o755)
    (workdir / "userlist.txt").write_text(f'"{target.username}" ""\n')
    config = workdir / "pgbouncer.ini"
    config.write_text(
        f"""[databases]
{target.database} = host={target.host} port={target.port} dbname={target.database} user={target.username}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {workdir / "userlist.txt"}
admin_users = {target.username}
pool_mode = transaction
default_pool_size = {pool}
max_db_connections = {pool}
min_pool_size = {pool}
reserve_pool_size = 0
max_client_conn = {max_clients}
ignore_startup_parameters = extra_float_digits
log_connections = 0
log_disconnections = 0
"""
    )
    for path in workdir.iterdir():
        path.chmod(0o644)
    command = [binary, str(config)]
    if os.geteuid() == 0:
        command[1:1] = ["-u", pwd.getpwnam("postgres").pw_name]
    log = workdir / "pgbouncer.log"
    with started(command, log) as proc:
        bouncer = Bouncer(
            port, pool, target.database, target.username, (version.split() + ["?", "?"])[1]
        )
        wait_until(lambda: bouncer.admin("SHOW VERSION") is not None, proc, log, "pgbouncer")
        yield bouncer


@dataclasses.dataclass
class Balancer:
    base_url: str
    balance: str
    socket_path: Path
    version: str
    log: Path

    def servers(self) -> dict[str, dict]:
        """Each backend server's status and the responses it gave (HAProxy's `show stat`)."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(self.socket_path))
            sock.sendall(b"show stat\n")
            raw = b""
            while chunk := sock.recv(65536):
                raw += chunk
        rows = csv.DictReader(raw.decode().lstrip("# ").splitlines())
        return {
            row["svname"]: {
                "status": row["status"],
                "responses": sum(int(row[f"hrsp_{n}xx"] or 0) for n in range(1, 6)),
                "downs": int(row["chkdown"] or 0),  # times the health check took it out
                "queue_max": int(row["qmax"] or 0),  # most requests queued in HAProxy for it
            }
            for row in rows
            if row["pxname"] == "app" and row["svname"] not in ("FRONTEND", "BACKEND")
        }


@contextlib.contextmanager
def haproxy(workdir: Path, backends: list[str], balance: str, maxconn: int) -> Iterator[Balancer]:
    """HAProxy in http mode on a free port, balancing `backends` (host:port), each checked with
    GET /healthz/live; no stickiness. `maxconn` > 0 queues in HAProxy beyond that many requests
    in progress per server."""
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(binary).exists():
        raise RuntimeError("haproxy is not installed: apt-get install haproxy")
    version = subprocess.run([binary, "-v"], capture_output=True, text=True).stdout.split()
    port = free_port()
    workdir.mkdir()
    sock = workdir / "haproxy.sock"
    limit = f" maxconn {maxconn}" if maxconn else ""
    servers = "\n".join(
        f"    server app{n} {address} check inter 2s fastinter 1s rise 2 fall 3{limit}"
        for n, address in enumerate(backends, 1)
    )
    config = workdir / "haproxy.cfg"
    config.write_text(
        f"""global
    maxconn 4096
    stats socket {sock} mode 600 level user

defaults
    mode http
    option forwardfor
    timeout connect 5s
    timeout client 90s
    timeout server 90s
    timeout queue 60s
    timeout http-request 30s
    timeout http-keep-alive 10s
    # A check waits in gunicorn's queue like any request: under the rush it takes seconds. With
    # the default (the check's interval) both instances were taken out in the first second of
    # a small rush, and most residents got HAProxy's own 503.
    timeout check 10s

frontend rush
    bind 127.0.0.1:{port}
    default_backend app

backend app
    balance {balance}
    option httpchk GET /healthz/live
    http-check expect status 200
{servers}
"""
    )
    checked = subprocess.run([binary, "-c", "-q", "-f", str(config)], capture_output=True)
    if checked.returncode:
        raise RuntimeError(f"haproxy refused its config:\n{checked.stderr.decode()}")
    log = workdir / "haproxy.log"
    with started([binary, "-db", "-f", str(config)], log) as proc:
        balancer = Balancer(f"http://127.0.0.1:{port}", balance, sock, version[2], log)

        def ready() -> bool:
            servers = balancer.servers().values()
            return bool(servers) and all(s["status"] == "UP" for s in servers)

        wait_until(ready, proc, log, "haproxy")
        yield balancer
