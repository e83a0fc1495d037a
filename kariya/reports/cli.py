"""The batch side of the city's view (DESIGN §5.3), wired into the `kariya` console script by
kariya/cli.py: `export`, `report weekly|final`, `handover`, the four-eyes `erasure` steps,
`retention check`, and what `kariya tick` runs of this domain (the dashboard's figures, the
rounds' reports)."""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import sys
from pathlib import Path

from kariya.clock import JST
from kariya.db import unit_of_work
from kariya.errors import DomainError, Invalid
from kariya.settings import settings_of


def _clock(registry, db):
    from kariya.clock import make_clock

    return make_clock(settings_of(registry), db)


def _staff(db, username: str, role: str):
    """The four-eyes steps are recorded under a named staff account of the right role."""
    from sqlalchemy import select

    from kariya.staff.models import StaffUser

    user = db.scalar(select(StaffUser).where(StaffUser.username == username, StaffUser.active))
    if user is None:
        raise DomainError(f"スタッフアカウント {username} はありません。")
    if user.role != role:
        raise DomainError(
            f"この操作は{'市の担当者' if role == 'city' else '事務局'}のアカウントで行います。"
        )
    return f"staff:{user.username}"


def tick(db, clock, settings) -> dict:
    """This domain's share of `kariya tick`: the settled rounds' reports, then the figures."""
    from kariya.reports import dashboard, status

    built = status.due_weekly(db, clock, settings)
    data = dashboard.refresh(db, clock)
    return {"reports": built, "dashboard": data["as_of"] if data else None}


def cmd_export(registry, args) -> int:
    from kariya.reports import exports

    fmt = args.format or ("csv" if args.out.lower().endswith(".csv") else "xlsx")
    out = Path(args.out)
    with unit_of_work(registry) as db:
        clock = _clock(registry, db)
        if args.as_user:
            actor, role = _staff(db, args.as_user, "city"), "city"
        else:
            actor, role = f"cli:{getpass.getuser()}", "batch"
        exports.check_options(fmt, args.encoding)
        exports.kind_of(args.kind)
        with out.open("wb") as f:
            result = exports.write(db, args.kind, f, fmt, args.encoding)
        exports.record_export(db, actor=actor, role=role, kind=args.kind, now=clock.now())
    for problem in result.problems:
        print(f"kariya: {problem.text()}", file=sys.stderr)
    replaced = sum(p.replaced for p in result.problems)
    notes = [f"{replaced} characters replaced"] if replaced else []
    if len(result.problems) > replaced:
        notes.append(f"{len(result.problems) - replaced} machine-dependent characters")
    print(
        f"{args.kind}: {result.rows} rows written to {out} ({fmt}"
        + (f", {args.encoding}" if fmt == "csv" else "")
        + "".join(f"; {n}" for n in notes)
        + ")"
    )
    return 0


def cmd_report(registry, args) -> int:
    from kariya.reports import printing, status

    ext = Path(args.out).suffix.lower().lstrip(".")
    if ext not in ("xlsx", "pdf"):
        raise Invalid("出力するファイルの拡張子は .xlsx か .pdf にしてください。")
    with unit_of_work(registry) as db:
        round_number = args.round if args.report_command == "weekly" else None
        report = status.build(db, _clock(registry, db), round_number=round_number)
        data = printing.render(report, ext)
    Path(args.out).write_bytes(data)
    print(f"{report.title}: written to {args.out} ({len(data):,} bytes)")
    return 0


def cmd_handover(registry, args) -> int:
    from kariya.reports import exports, handover

    with unit_of_work(registry) as db:
        clock = _clock(registry, db)
        with Path(args.out).open("wb") as f:
            result = handover.write_zip(db, clock, f)
        exports.record_export(
            db, actor=f"cli:{getpass.getuser()}", role="batch", kind="handover", now=clock.now()
        )
    with Path(args.out).open("rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    print(f"hand-over written to {args.out}: {len(result.files)} files, {result.rows:,} rows")
    print(f"sha256 {digest}")
    return 0


def cmd_erasure(registry, args) -> int:
    from kariya.audit.commands import unit_of_work as audited_unit_of_work
    from kariya.reports import handover

    with audited_unit_of_work(registry) as db:
        clock = _clock(registry, db)
        step = args.erasure_command
        if step == "request":
            row = handover.request_erasure(
                db,
                clock,
                actor=_staff(db, args.as_user, "secretariat"),
                handover_sha256=args.handover,
            )
        elif step == "list":
            for row in handover.erasures(db):
                print(f"{row.id}\t{row.state}\t{row.requested_by}\t{row.decided_by or ''}")
            return 0
        else:
            row = handover.get_erasure(db, args.request)
            if step in ("approve", "reject"):
                handover.decide(
                    db,
                    clock,
                    row,
                    approve=step == "approve",
                    actor=_staff(db, args.as_user, "city"),
                    reason=getattr(args, "reason", "") or "",
                )
            elif step == "proof":
                if not row.proof:
                    raise DomainError(f"消去の依頼 No.{row.id} はまだ実行されていません。")
                _write(row.proof, args.out)
                print(f"sha256 {row.proof_sha256}")
                return 0
            else:
                from kariya.reports import retention

                actor = _staff(db, args.as_user, "secretariat")
                text = retention.execute(
                    db,
                    clock,
                    settings_of(registry),
                    row,
                    actor=actor,
                    before=_instant(args.before) if args.before else None,
                )
                _write(text, args.out)
        print(f"erasure request {row.id}: {row.state}")
    return 0


def _write(text: str, out: str | None) -> None:
    """Print `text`, and also write it to `out` if given (UTF-8)."""
    print(text, end="")
    if out:
        Path(out).write_text(text, encoding="utf-8")


def _instant(text: str) -> dt.datetime:
    """--before: an ISO date (midnight in Japan time) or date and time with its offset."""
    try:
        if len(text) == 10:
            return dt.datetime.fromisoformat(text).replace(tzinfo=JST)
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise Invalid(
            "日付は 2024-03-01 か 2024-03-01T00:00:00+09:00 の形で指定してください。"
        ) from None
    if value.tzinfo is None:
        raise Invalid("日時には時差(例: +09:00)を付けてください。")
    return value


def cmd_retention(registry, args) -> int:
    """`kariya retention check`: the erasure's check queries now (read only); exit 1 while any
    personal data (or a record past its retention) is left."""
    from kariya.reports import retention

    with unit_of_work(registry) as db:
        clock = _clock(registry, db)
        before = _instant(args.before) if args.before else None
        cutoff = retention.cutoff_of(settings_of(registry), clock.now(), before)
        clean, text = retention.check_report(db, cutoff)
    _write(text, args.out)
    return 0 if clean else 1


def add_commands(sub) -> None:
    p = sub.add_parser("export", help="the city's data on request (C-2): .xlsx or CSV")
    kinds = ["uses", "residents", "stores", "inquiries", "access-log", "staff-actions"]
    p.add_argument("kind", choices=kinds)  # kariya.reports.exports.OFFERED
    p.add_argument("--out", required=True, metavar="FILE")
    p.add_argument("--format", choices=["xlsx", "csv"], help="default: by the file's extension")
    p.add_argument("--encoding", choices=["utf-8-sig", "cp932"], default="utf-8-sig")
    p.add_argument("--as", dest="as_user", metavar="USER", help="the city account asking")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("report", help="status and final reports (C-3), .xlsx or .pdf")
    rsub = p.add_subparsers(dest="report_command", required=True)
    q = rsub.add_parser("weekly", help="the status report of a round")
    q.add_argument("--round", type=int, required=True, metavar="K")
    q.add_argument("--out", required=True, metavar="FILE")
    q.set_defaults(func=cmd_report)
    q = rsub.add_parser("final", help="the final report")
    q.add_argument("--out", required=True, metavar="FILE")
    q.set_defaults(func=cmd_report)

    p = sub.add_parser("handover", help="the full data set for the city (D-2) as one ZIP")
    p.add_argument("--out", required=True, metavar="FILE.zip")
    p.set_defaults(func=cmd_handover)

    p = sub.add_parser("erasure", help="erase personal data after the hand-over (four eyes)")
    esub = p.add_subparsers(dest="erasure_command", required=True)
    q = esub.add_parser("request", help="ask for the erasure (a secretariat account)")
    q.add_argument("--as", dest="as_user", required=True, metavar="USER")
    q.add_argument(
        "--handover", metavar="SHA256", help="the ZIP handed over (default: the page's latest)"
    )
    q.set_defaults(func=cmd_erasure)
    for name, role in (("approve", "city"), ("reject", "city"), ("execute", "secretariat")):
        q = esub.add_parser(name, help=f"{name} a request (a {role} account)")
        q.add_argument("request", type=int)
        q.add_argument("--as", dest="as_user", required=True, metavar="USER")
        if name == "reject":
            q.add_argument("--reason", required=True)
        if name == "execute":
            q.add_argument(
                "--before",
                metavar="DATE",
                help="delete the access records before DATE (default: the retention period)",
            )
            q.add_argument("--out", metavar="FILE", help="also write the proof to FILE")
        q.set_defaults(func=cmd_erasure)
    esub.add_parser("list", help="the requests and their states").set_defaults(func=cmd_erasure)
    q = esub.add_parser("proof", help="the proof an executed request recorded")
    q.add_argument("request", type=int)
    q.add_argument("--out", metavar="FILE")
    q.set_defaults(func=cmd_erasure)

    p = sub.add_parser("retention", help="what personal data is left (the erasure's checks)")
    rsub = p.add_subparsers(dest="retention_command", required=True)
    q = rsub.add_parser("check", help="one query per personal column; exit 1 if any is left")
    q.add_argument("--before", metavar="DATE", help="the access records' cutoff to check")
    q.add_argument("--out", metavar="FILE", help="also write the report to FILE")
    q.set_defaults(func=cmd_retention)
