"""The `kariya` console script (DESIGN.md section 5): the batch side of the back office."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from kariya.errors import DomainError
from kariya.settings import settings_of


def _registry(ini: str):
    from pyramid.paster import get_appsettings, setup_logging

    from kariya import make_config

    if not Path(ini).exists():
        raise SystemExit(f"kariya: ini file {ini} not found (use -c FILE)")
    setup_logging(ini)
    return make_config(get_appsettings(ini)).registry


def _session(registry):
    """A unit of work; a data-changing command's entry in the audit log of staff actions is
    written into it (kariya.audit.commands)."""
    from kariya.audit.commands import unit_of_work

    return unit_of_work(registry)


def cmd_initdb(registry, args) -> int:
    from kariya.clock import make_clock
    from kariya.documents import seed
    from kariya.migrations import upgrade

    upgrade(registry["db.engine"])
    print("database migrated to head")
    with _session(registry) as db:
        created = seed.ensure(db, make_clock(settings_of(registry), db))
    for kind in created:
        print(f"document {kind}: version 1 published (the text the project ships)")
    return 0


def cmd_demo(registry, args) -> int:
    from kariya.dev import demo

    if settings_of(registry).is_production:
        print("kariya demo: refused in production", file=sys.stderr)
        return 2
    with _session(registry) as db:
        accounts = demo.load(db, settings_of(registry))
    print(
        "Demo loaded: campaign of 6 weekly rounds, 20 active stores; the clock is set inside round 1."
    )
    print("Staff accounts (log in at http://localhost:6543/login):")
    for username, role, password in accounts:
        print(f"  {role:<12} username: {username:<12} password: {password}")
    print("Residents: POST /dev/line-login (simulated LINE) while kariya.line.simulator = true.")
    return 0


def cmd_load_campaign(registry, args) -> int:
    from kariya.campaign import definition
    from kariya.clock import make_clock

    spec = definition.parse(Path(args.file).read_text("utf-8"))
    with _session(registry) as db:
        campaign = definition.load(
            db, make_clock(settings_of(registry), db), spec, actor="cli:load-campaign"
        )
        print(
            f"campaign {campaign.name!r}: {len(campaign.rounds)} rounds, T = {campaign.total_funds:,} yen"
        )
        for r in campaign.rounds:
            print(
                f"  round {r.number}: {r.starts.isoformat()} .. {r.ends.isoformat()} planned {r.planned:,}"
            )
    return 0


def cmd_create_user(registry, args) -> int:
    from kariya.clock import make_clock
    from kariya.staff import accounts

    password = args.password
    generated = False
    if password is None:
        if sys.stdin.isatty():
            password = getpass.getpass("password (empty: generate one): ")
        if not password:
            password, generated = accounts.generate_password(), True
    with _session(registry) as db:
        user = accounts.create_user(
            db,
            make_clock(settings_of(registry), db),
            username=args.name,
            password=password,
            role=args.role,
            display_name=args.display_name or "",
            store_code=args.store,
        )
        print(f"created {user.role} account {user.username}")
    if generated:
        print(f"password: {password}")
    return 0


def cmd_reset_second_factor(registry, args) -> int:
    """The way back when no secretariat operator can reset a lost phone on the web (recorded,
    by the operating system's user)."""
    from kariya.clock import make_clock
    from kariya.staff import second_factor

    with _session(registry) as db:
        clock = make_clock(settings_of(registry), db)
        try:
            by = f"cli:{getpass.getuser()}"
        except OSError:  # no name for this process's user
            by = "cli"
        second_factor.reset(db, clock, args.name, "", by, args.reason)
    print(f"second factor of {args.name} reset (recorded as {by})")
    return 0


def cmd_tick(registry, args) -> int:
    from kariya.callcenter import reminders
    from kariya.clock import make_clock
    from kariya.coupons import ticker
    from kariya.reports import cli as reports_cli

    with _session(registry) as db:
        clock = make_clock(settings_of(registry), db)
        done = ticker.run_due(db, clock, actor="cli:tick")
    with _session(registry) as db:  # after the rounds' transitions have committed
        done.update(reports_cli.tick(db, clock, settings_of(registry)))
        done.update(reminders.run_due(db, clock, settings_of(registry)))
    print(json.dumps({"now": clock.now().isoformat(), **done}, ensure_ascii=False))
    return 0


def cmd_ledger_check(registry, args) -> int:
    from kariya.audit import ledger_check
    from kariya.campaign import definition

    with _session(registry) as db:
        campaign = definition.latest(db)
        if campaign is None:
            print("no campaign loaded")
            return 1
        report = ledger_check.check(db, campaign)
        print(report.text())
    return 0 if report.ok else 1


def cmd_fraud_scan(registry, args) -> int:
    from kariya.clock import make_clock
    from kariya.fraud import reading, scan

    with _session(registry) as db:
        clock = make_clock(settings_of(registry), db)
        result = scan.run(db, clock, settings_of(registry), actor="cli:fraud-scan")
        if result.skipped:
            print(result.skipped)
            return 0
        print(
            f"{clock.now().isoformat()}: {len(result.opened)} case(s) opened, "
            f"{len(result.extended)} given new evidence ({result.total_seconds} s)"
        )
        for case in result.opened:
            print(f"  No.{case.id} {reading.subject_text(db, case)} {case.rule}: {case.summary}")
    return 0


def cmd_store_qr(registry, args) -> int:
    from kariya.stores import lookup, qr

    with _session(registry) as db:
        store = lookup.get(db, args.code)
        url = qr.store_url(settings_of(registry), store)
        print(url)
        if args.png:
            Path(args.png).write_bytes(qr.png(url))
            print(f"QR code image written to {args.png}", file=sys.stderr)
    return 0


def cmd_import_stores(registry, args) -> int:
    from kariya.clock import make_clock
    from kariya.errors import Invalid
    from kariya.stores.importer.applying import import_stores
    from kariya.stores.importer.report import errors_refusal

    path = Path(args.file)
    if not path.is_file():
        raise Invalid(f"ファイル {args.file} が見つかりません。")
    data = path.read_bytes()
    with _session(registry) as db:
        report = import_stores(
            db,
            make_clock(settings_of(registry), db),
            data,
            actor="cli:import-stores",
            dry_run=args.dry_run,
            activate=args.activate,
            filename=path.name,
        )
        print(report.text())
        if not report.ok:  # a dry run with errors (an import with errors raises by itself)
            raise errors_refusal(report)
    return 0


def cmd_store_template(registry, args) -> int:
    from kariya.stores.importer.workbooks import template_workbook

    Path(args.file).write_bytes(template_workbook())
    print(f"store template written to {args.file}")
    return 0


def _staff_actor(db, username: str) -> str:
    """The four-eyes steps are recorded under a named staff account with the right role."""
    from sqlalchemy import select

    from kariya.models import StaffUser

    user = db.scalar(select(StaffUser).where(StaffUser.username == username, StaffUser.active))
    if user is None:
        raise DomainError(f"スタッフアカウント {username} はありません。")
    return user


def cmd_payouts(registry, args) -> int:
    from kariya import roles
    from kariya.clock import make_clock
    from kariya.payouts import batches, transfers

    with _session(registry) as db:
        clock = make_clock(settings_of(registry), db)
        if args.payouts_command == "build":
            batch = batches.build(db, clock, settings_of(registry), actor="cli:payouts-build")
        else:
            batch = batches.get(db, args.batch)
        if args.payouts_command == "submit":
            user = _staff_actor(db, args.as_user)
            if user.role != roles.SECRETARIAT:
                raise DomainError("承認申請は事務局のアカウントで行います。")
            batches.submit(db, clock, batch, actor=f"staff:{user.username}")
        elif args.payouts_command == "approve":
            user = _staff_actor(db, args.as_user)
            if user.role != roles.CITY:
                raise DomainError("承認は市の担当者のアカウントで行います。")
            batches.approve(db, clock, batch, actor=f"staff:{user.username}")
        elif args.payouts_command == "export":
            data = transfers.export(
                db, clock, batch, settings_of(registry), actor="cli:payouts-export"
            )
            Path(args.out).write_bytes(data)
            print(
                f"Zengin file written to {args.out} ({len(data)} bytes, sha256 {batch.zengin_sha256})"
            )
        t = batches.totals(batch)
        print(
            f"batch {batch.id} [{batch.state}] period {batch.period_key}: "
            f"{t['stores']} stores, {t['count']} uses, {t['amount']:,} yen (held {t['held_amount']:,})"
        )
    return 0


def cmd_drill(registry, args) -> int:
    from kariya.audit import drill

    report = drill.run(
        registry["db.engine"].url,
        into=args.into,
        dump=Path(args.dump) if args.dump else None,
        keep=args.keep,
    )
    print(report.text())
    return 0 if report.ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kariya", description="Kariya e-coupon back office")
    parser.add_argument(
        "-c", "--config", default="development.ini", help="ini file (default: development.ini)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "initdb", help="apply the migrations and publish version 1 of every document"
    ).set_defaults(func=cmd_initdb)
    sub.add_parser("demo", help="load the demo campaign, stores and accounts").set_defaults(
        func=cmd_demo
    )
    p = sub.add_parser(
        "load-campaign", help="create or (before it starts) update a campaign from TOML"
    )
    p.add_argument("file")
    p.set_defaults(func=cmd_load_campaign)
    p = sub.add_parser("create-user", help="create a staff account")
    p.add_argument("--role", required=True, choices=["store", "agent", "secretariat", "city"])
    p.add_argument("--store", help="store code (store staff only)")
    p.add_argument("--display-name")
    p.add_argument("--password", help="default: ask, or generate one")
    p.add_argument("name")
    p.set_defaults(func=cmd_create_user)
    p = sub.add_parser(
        "reset-second-factor", help="switch a staff account's second factor off (a lost phone)"
    )
    p.add_argument("name")
    p.add_argument("--reason", required=True, help="why (recorded)")
    p.set_defaults(func=cmd_reset_second_factor)
    p = sub.add_parser("store-qr", help="print the URL in a store's QR code (and write the image)")
    p.add_argument("code", help="store code")
    p.add_argument("--png", metavar="FILE", help="also write the QR code as a PNG image")
    p.set_defaults(func=cmd_store_qr)
    p = sub.add_parser("import-stores", help="import the city's store list (.xlsx, S-1)")
    p.add_argument("file", help="the workbook (.xlsx)")
    p.add_argument("--dry-run", action="store_true", help="show what would change, write nothing")
    p.add_argument(
        "--activate", action="store_true", help="take newly created stores through to active"
    )
    p.set_defaults(func=cmd_import_stores)
    p = sub.add_parser("store-template", help="write the store list template (.xlsx)")
    p.add_argument("file")
    p.set_defaults(func=cmd_store_template)
    p = sub.add_parser("payouts", help="payout batches to stores (F-1..F-5)")
    psub = p.add_subparsers(dest="payouts_command", required=True)
    psub.add_parser("build", help="build the draft batch of the last ended period").set_defaults(
        func=cmd_payouts
    )
    for name, role in (("submit", "secretariat"), ("approve", "city")):
        q = psub.add_parser(name, help=f"{name} a batch (as a {role} account)")
        q.add_argument("batch", type=int)
        q.add_argument("--as", dest="as_user", required=True, metavar="USER")
        q.set_defaults(func=cmd_payouts)
    q = psub.add_parser("export", help="write the Zengin transfer file of an approved batch")
    q.add_argument("batch", type=int)
    q.add_argument("--out", required=True, metavar="FILE")
    q.set_defaults(func=cmd_payouts)
    sub.add_parser("tick", help="run every time-driven transition due now").set_defaults(
        func=cmd_tick
    )
    p = sub.add_parser("ledger", help="the coupon-funds ledger")
    lsub = p.add_subparsers(dest="ledger_command", required=True)
    lsub.add_parser("check", help="verify the money invariants").set_defaults(func=cmd_ledger_check)
    p = sub.add_parser(
        "drill", help="backup and restore drill: pg_dump, restore into a new database, compare"
    )
    p.add_argument("--into", metavar="NAME", help="the new database (default: <name>_drill)")
    p.add_argument("--dump", metavar="FILE", help="keep the dump there (default: a temp file)")
    p.add_argument("--keep", action="store_true", help="keep the restored database")
    p.set_defaults(func=cmd_drill)
    p = sub.add_parser("fraud", help="the fraud watch (issue 15)")
    fsub = p.add_subparsers(dest="fraud_command", required=True)
    fsub.add_parser(
        "scan", help="run the fraud rules over the uses up to now; print the cases opened"
    ).set_defaults(func=cmd_fraud_scan)
    from kariya.reports import cli as reports_cli

    reports_cli.add_commands(sub)  # export, report, handover, erasure
    return parser


def main(argv: list[str] | None = None) -> int:
    from kariya.audit import commands as audited

    args = build_parser().parse_args(argv)
    registry = _registry(args.config)
    audited.start(registry, audited.describe(args))
    try:
        return args.func(registry, args)
    except DomainError as exc:
        audited.finished(registry, exc.status)
        print(f"kariya: {exc.message}", file=sys.stderr)
        details = exc.details if isinstance(exc.details, list) else []
        for line in details:
            print(f"  - {line}", file=sys.stderr)
        return 2
    except Exception:
        audited.finished(registry, 500)
        raise


if __name__ == "__main__":
    sys.exit(main())
