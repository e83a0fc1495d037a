"""The backup and restore drill (issue 14, I-10): a backup is only as good as its last restore.

`kariya drill` dumps the database with pg_dump (custom format), restores the dump into a new
database on the same server with pg_restore, and proves the copy is the same: every table's row
count and a digest of its rows, every sequence's position, the ledger check of every campaign
(its report, word for word) and the ledger's balances. The source's figures are read in the
very snapshot that pg_dump saves (an exported snapshot, `pg_dump --snapshot`), so the drill can
run against the live database while residents use it. Nothing is written to the source.

The restored database is dropped afterwards unless `keep`; a database of that name that already
exists is never touched. The report carries the dump's size and the times of each step (README,
"Backup and restore drill").
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

from kariya.audit import ledger_check
from kariya.campaign.models import Campaign
from kariya.errors import Conflict, Invalid
from kariya.ledger.postings import balances

# The steps timed: pg_dump; the source's figures (read meanwhile, in the dump's snapshot);
# pg_restore into the new database; the restored database's figures.
STEPS = ("dump", "figures", "restore", "compare")
NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
SETTING_NAME = re.compile(r"^[a-z_][a-z0-9_.]{0,62}$")
# The settings whose value is a list of quoted items (pg_dump's own list, dumputils.c): one
# literal would make them a single item.
LIST_SETTINGS = frozenset(
    (
        "local_preload_libraries",
        "search_path",
        "session_preload_libraries",
        "shared_preload_libraries",
        "temp_tablespaces",
        "unix_socket_directories",
    )
)


@dataclasses.dataclass
class Figures:
    """What must be identical in a database and its restored copy."""

    tables: dict[str, tuple[int, str]]  # table -> (rows, md5 over its rows)
    sequences: dict[str, int | None]  # sequence -> last value (None: never used)
    ledger: list[str]  # every campaign's ledger check report
    balances: dict[str, int]  # ledger account -> balance
    ledger_ok: bool
    settings: list[str]  # the database's own settings (ALTER DATABASE … SET), name=value

    def differences(self, other: Figures) -> list[str]:
        found = []
        for name in sorted(set(self.tables) | set(other.tables)):
            mine, theirs = self.tables.get(name), other.tables.get(name)
            if mine != theirs:
                found.append(f"table {name}: {_rows(mine)} against {_rows(theirs)}")
        for name in sorted(set(self.sequences) | set(other.sequences)):
            if self.sequences.get(name) != other.sequences.get(name):
                found.append(
                    f"sequence {name}: {self.sequences.get(name)} against "
                    f"{other.sequences.get(name)}"
                )
        if self.ledger != other.ledger:
            found.append("the ledger check reports differ")
        if self.settings != other.settings:
            found.append(f"database settings: {self.settings} against {other.settings}")
        for account in sorted(set(self.balances) | set(other.balances)):
            if self.balances.get(account, 0) != other.balances.get(account, 0):
                found.append(
                    f"balance {account}: {self.balances.get(account, 0):,} against "
                    f"{other.balances.get(account, 0):,}"
                )
        return found


def _rows(entry: tuple[int, str] | None) -> str:
    return "missing" if entry is None else f"{entry[0]:,} rows (md5 {entry[1][:12]})"


@dataclasses.dataclass
class Report:
    source: str
    restored: str
    dump_bytes: int
    seconds: dict[str, float]  # step -> seconds
    figures: Figures
    differences: list[str]
    kept: bool

    @property
    def identical(self) -> bool:
        return not self.differences

    @property
    def ok(self) -> bool:
        return self.identical and self.figures.ledger_ok

    def text(self) -> str:
        rows = sum(n for n, _ in self.figures.tables.values())
        lines = [
            f"Backup and restore drill: {self.source} -> {self.restored}",
            f"  dump size     {self.dump_bytes:>14,} bytes (pg_dump custom format)",
        ]
        lines += [
            f"  {step:<13} {self.seconds[step]:>14.2f} s" for step in STEPS if step in self.seconds
        ]
        lines.append(
            f"  compared      {len(self.figures.tables):>14,} tables, {rows:,} rows, "
            f"{len(self.figures.sequences)} sequences, {len(self.figures.balances)} ledger "
            "accounts, the ledger check"
        )
        lines.append(f"  settings      {', '.join(self.figures.settings) or '(none)'}")
        lines += ["", *self.figures.ledger, ""]
        if self.identical:
            lines.append("IDENTICAL: the restored database has the same rows, sequences,")
            lines.append("balances and ledger check as the source at the moment of the dump.")
        else:
            lines.append(f"DIFFERENT: {len(self.differences)} difference(s)")
            lines += [f"  - {d}" for d in self.differences]
        if not self.figures.ledger_ok:
            lines.append("The ledger check itself FAILED on the source (see above).")
        if self.kept:
            lines.append(f"The restored database {self.restored} is kept.")
        return "\n".join(lines)


def figures(conn: sa.Connection) -> Figures:
    """The figures of the database `conn` is on, in its current transaction."""
    tables = conn.scalars(
        sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    ).all()
    counted = {}
    for table in tables:
        quoted = conn.dialect.identifier_preparer.quote(table)
        rows, digest = conn.execute(
            sa.text(
                f"SELECT count(*), coalesce(md5(string_agg(md5(t::text), '' ORDER BY"
                f" md5(t::text))), '') FROM public.{quoted} t"
            )
        ).one()
        counted[table] = (rows, digest)
    sequences = dict(
        conn.execute(
            sa.text(
                "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'"
                " ORDER BY sequencename"
            )
        ).all()
    )
    reports, ok = [], True
    with Session(bind=conn) as db:
        for campaign in db.scalars(sa.select(Campaign).order_by(Campaign.id)):
            report = ledger_check.check(db, campaign)
            reports.append(report.text())
            ok = ok and report.ok
        money = balances(db)
    return Figures(counted, sequences, reports, money, ok, database_settings(conn))


def database_settings(conn: sa.Connection) -> list[str]:
    """The settings of the database itself (`ALTER DATABASE … SET`, e.g. the migrations'
    plan_cache_mode), as `name=value`: a dump does not carry them, nor does a copy made from a
    template, so the restore sets them on the new database and the comparison checks them."""
    return sorted(
        conn.scalars(
            sa.text(
                "SELECT unnest(s.setconfig) FROM pg_db_role_setting s"
                " JOIN pg_database d ON d.oid = s.setdatabase"
                " WHERE d.datname = current_database() AND s.setrole = 0"
            )
        )
    )


def _set_database_settings(conn: sa.Connection, into: str, settings: list[str]) -> None:
    for setting in settings:
        name, _, value = setting.partition("=")
        if not SETTING_NAME.match(name) or (name in LIST_SETTINGS and ";" in value):
            raise Conflict(f"設定 {name!r} を復元先に写せません。", code="DRILL_FAILED")
        if name in LIST_SETTINGS:
            # Stored as the list it was given, each item already quoted by the server: as is.
            conn.execute(sa.text(f'ALTER DATABASE "{into}" SET {name} TO {value}'))
        else:
            literal = "'" + value.replace("'", "''") + "'"
            conn.execute(sa.text(f'ALTER DATABASE "{into}" SET {name} = {literal}'))


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq URI for pg_dump and pg_restore (without the password, which goes in the
    environment: a command line is visible to every user of the machine)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise Invalid(f"{name} が見つかりません。PostgreSQL のクライアントを導入してください。")
    return found


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise Conflict(f"{what}に失敗しました: {done.stderr.strip()[-2000:]}", code="DRILL_FAILED")


def run(
    database_url: str | URL,
    *,
    into: str | None = None,
    dump: Path | None = None,
    keep: bool = False,
) -> Report:
    """Dump the database at `database_url`, restore it into the new database `into` (a name on
    the same server, by default `<name>_drill`, or the URL of a database on another server: a
    drill on production is better restored elsewhere), compare, and drop the copy unless
    `keep`. `dump` keeps the dump file there (else a temporary file)."""
    source = make_url(database_url)
    if source.get_backend_name() != "postgresql":
        raise Invalid("復元訓練は PostgreSQL のデータベースで行います。")
    if into is not None and "://" in into:
        target = make_url(into)
    else:
        target = source.set(database=into or f"{source.database}_drill"[:63])
    same = (target.host, target.port, target.database) == (
        source.host,
        source.port,
        source.database,
    )
    if target.get_backend_name() != "postgresql" or not NAME.match(target.database or "") or same:
        raise Invalid(
            f"復元先のデータベース名 {target.database!r} は使えません"
            "(元とは別の名前、英小文字・数字・_)。"
        )
    into = target.database
    pg_dump, pg_restore = _tool("pg_dump"), _tool("pg_restore")
    seconds: dict[str, float] = {}
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    engine = sa.create_engine(source, poolclass=sa.pool.NullPool)
    with contextlib.ExitStack() as stack:
        stack.callback(admin.dispose)
        stack.callback(engine.dispose)
        if dump is None:
            dump = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "kariya.dump"
        with admin.connect() as conn:
            if conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": into}):
                raise Conflict(
                    f"復元先のデータベース {into} はすでにあります。別の名前を指定してください。",
                    code="DRILL_TARGET_EXISTS",
                )

        # The source's figures in the snapshot that pg_dump saves, while it saves it.
        started = time.monotonic()
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            snapshot = conn.scalar(sa.text("SELECT pg_export_snapshot()"))
            uri, env = _libpq(source)
            errors = stack.enter_context(tempfile.TemporaryFile("w+"))
            dumping = subprocess.Popen(
                [pg_dump, "--format=custom", f"--snapshot={snapshot}", "--file", str(dump)]
                + ["--dbname", uri],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                text=True,
            )
            dumped = threading.Thread(
                target=lambda: (dumping.wait(), seconds.update(dump=time.monotonic() - started))
            )
            dumped.start()
            before = figures(conn)
            seconds["figures"] = time.monotonic() - started
            dumped.join()
            conn.rollback()
        if dumping.returncode != 0:
            errors.seek(0)
            raise Conflict(
                f"pg_dump に失敗しました: {errors.read().strip()[-2000:]}", code="DRILL_FAILED"
            )

        started = time.monotonic()
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{into}"'))
        try:
            with admin.connect() as conn:
                _set_database_settings(conn, into, before.settings)
            uri, env = _libpq(target)
            _run(
                [pg_restore, "--exit-on-error", "--no-owner", "--dbname", uri, str(dump)],
                env,
                "pg_restore",
            )
            seconds["restore"] = time.monotonic() - started
            started = time.monotonic()
            restored = sa.create_engine(target, poolclass=sa.pool.NullPool)
            try:
                with restored.connect() as conn:
                    after = figures(conn)
            finally:
                restored.dispose()
            seconds["compare"] = time.monotonic() - started
        finally:
            if not keep:
                with admin.connect() as conn:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{into}" WITH (FORCE)'))
        return Report(
            source=source.database,
            restored=into
            if (target.host, target.port) == (source.host, source.port)
            else f"{target.host}:{target.port}/{into}",
            dump_bytes=dump.stat().st_size,
            seconds=seconds,
            figures=before,
            differences=before.differences(after),
            kept=keep,
        )
