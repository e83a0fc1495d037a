"""The city's data on request (C-2): uses, residents, stores (and, once the call centre's issue
lands, its inquiries and the access log), as .xlsx or CSV, from the city's page (a job) and
from `kariya export`.

A kind is a small registered query: its columns and a function yielding its rows, streamed from
the database in batches (`yield_per`), so 100,000 uses take flat memory. Residents appear only
under their pseudonymous `person_ref` (kariya.residents.refs) with age band and area, never
with their LINE user id or display name. Every export is an access record (D-1): `record_export`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Iterator, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from kariya.audit import access, actions
from kariya.callcenter import reports as callcenter_reports
from kariya.campaign import definition
from kariya.campaign.models import Round
from kariya.clock import JST
from kariya.coupons.models import Acquisition
from kariya.errors import Invalid
from kariya.payouts.models import PayoutLine
from kariya.redemptions.models import Redemption
from kariya.reports import sheets
from kariya.reports.figures import local_text
from kariya.residents.models import Person
from kariya.residents.options import AGE_BANDS, AREAS
from kariya.stores.models import Store
from workflows import redemption as redemption_wf
from workflows import store as store_wf
from workflows.binding import label

log = logging.getLogger(__name__)

KINDS_OF_DESIGN = ("uses", "residents", "stores", "inquiries", "access-log")  # DESIGN §5.3
OFFERED = (*KINDS_OF_DESIGN, "staff-actions")  # the city's page and `kariya export`
FORMATS = ("xlsx", "csv")
BATCH = 5000  # rows fetched from the database at a time


@dataclasses.dataclass(frozen=True)
class Context:
    zone: ZoneInfo
    campaign_id: int | None

    def time(self, value: dt.datetime | None) -> str:
        return value.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S") if value else ""


@dataclasses.dataclass(frozen=True)
class Kind:
    name: str
    title: str  # what the page calls it
    columns: tuple[str, ...]
    count: Callable[[Session, Context], int]
    rows: Callable[[Session, Context], Iterator[Sequence]]
    personal: bool  # holds residents' (pseudonymous) data


KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    KINDS[kind.name] = kind
    return kind


def record_export(db: Session, *, actor: str, role: str, kind: str, now: dt.datetime) -> None:
    """Every export is an access record (D-1, DESIGN §5.3): who exported which kind, when.
    The one place the exports, the jobs and the CLI call; it writes the structured log line
    here, and is the call site for the access log of the call centre's domain."""
    access.record(
        db, now, access.Viewer(actor=actor, role=role), access.export_action(kind), subject=kind
    )


def _stream(db: Session, statement) -> Iterator:
    return db.execute(statement.execution_options(yield_per=BATCH))


# --- uses ----------------------------------------------------------------------------------------


def _uses_query(db: Session, ctx: Context):
    at = dt.datetime(2024, 1, 1, tzinfo=ctx.zone)  # the zone's offset, for SQLite
    query = (
        select(
            Redemption.confirmation_code,
            local_text(db, Redemption.used_at, ctx.zone, at, seconds=True),
            Round.number,
            Store.code,
            Store.name,
            Store.category,
            Redemption.coupons,
            Redemption.amount,
            Redemption.bill_amount,
            Redemption.state,
            local_text(db, Redemption.voided_at, ctx.zone, at, seconds=True),
            Person.ref,
            Person.age_band,
            Person.area,
        )
        .join(Store, Store.id == Redemption.store_id)
        .join(Round, Round.id == Redemption.round_id)
        .join(Person, Person.id == Redemption.person_id)
    )
    if ctx.campaign_id is not None:
        query = query.where(Round.campaign_id == ctx.campaign_id)
    return query


def _uses_rows(db: Session, ctx: Context) -> Iterator[Sequence]:
    states = {s: label(redemption_wf.MACHINE, s) for s in redemption_wf.STATES}
    bands, areas = AGE_BANDS, AREAS
    for r in _stream(db, _uses_query(db, ctx).order_by(Redemption.id)):
        band, area = r[12], r[13]
        yield (
            *r[:9],
            states[r[9]],
            r[10],
            r[11],
            bands.get(band, band or ""),
            areas.get(area, area or ""),
        )


def _uses_count(db: Session, ctx: Context) -> int:
    return db.scalar(select(func.count()).select_from(_uses_query(db, ctx).subquery())) or 0


register(
    Kind(
        "uses",
        "利用実績(1件1行)",
        (
            "確認番号",
            "利用日時",
            "回",
            "店舗コード",
            "店舗名",
            "業種",
            "利用枚数",
            "割引額(円)",
            "お会計額(円)",
            "状態",
            "取消日時",
            "person_ref",
            "年代",
            "地区",
        ),
        _uses_count,
        _uses_rows,
        personal=True,
    )
)


# --- residents -----------------------------------------------------------------------------------


def _round_filter(ctx: Context, column):
    if ctx.campaign_id is None:
        return true()
    return column.in_(select(Round.id).where(Round.campaign_id == ctx.campaign_id))


def _residents_rows(db: Session, ctx: Context) -> Iterator[Sequence]:
    acquired = (
        select(
            Acquisition.person_id.label("person_id"),
            func.count().label("n"),
            func.sum(Acquisition.amount).label("amount"),
        )
        .where(_round_filter(ctx, Acquisition.round_id))
        .group_by(Acquisition.person_id)
        .subquery()
    )
    used = (
        select(
            Redemption.person_id.label("person_id"),
            func.count().label("n"),
            func.sum(Redemption.amount).label("amount"),
        )
        .where(
            Redemption.state == redemption_wf.S.confirmed,
            _round_filter(ctx, Redemption.round_id),
        )
        .group_by(Redemption.person_id)
        .subquery()
    )
    query = (
        select(
            Person.ref,
            Person.age_band,
            Person.area,
            Person.created_at,
            Person.profile_at,
            func.coalesce(acquired.c.n, 0),
            func.coalesce(acquired.c.amount, 0),
            func.coalesce(used.c.n, 0),
            func.coalesce(used.c.amount, 0),
        )
        .outerjoin(acquired, acquired.c.person_id == Person.id)
        .outerjoin(used, used.c.person_id == Person.id)
        .order_by(Person.id)
    )
    for ref, band, area, created, profiled, n_acq, acq, n_used, spent in _stream(db, query):
        yield (
            ref,
            AGE_BANDS.get(band, band or ""),
            AREAS.get(area, area or ""),
            ctx.time(created),
            ctx.time(profiled),
            int(n_acq),
            int(acq),
            int(n_used),
            int(spent),
        )


register(
    Kind(
        "residents",
        "登録者(1人1行、氏名・LINEのIDなし)",
        (
            "person_ref",
            "年代",
            "地区",
            "登録日時",
            "回答日時",
            "取得回数",
            "取得額(円)",
            "利用件数",
            "利用額(円)",
        ),
        lambda db, ctx: db.scalar(select(func.count()).select_from(Person)) or 0,
        _residents_rows,
        personal=True,
    )
)


# --- stores ----------------------------------------------------------------------------------------


def _stores_rows(db: Session, ctx: Context) -> Iterator[Sequence]:
    used = (
        select(
            Redemption.store_id.label("store_id"),
            func.count().label("n"),
            func.sum(Redemption.amount).label("amount"),
        )
        .where(
            Redemption.state == redemption_wf.S.confirmed,
            _round_filter(ctx, Redemption.round_id),
        )
        .group_by(Redemption.store_id)
        .subquery()
    )
    paid = (
        select(PayoutLine.store_id.label("store_id"), func.sum(PayoutLine.amount).label("amount"))
        .where(PayoutLine.status == "transferred")
        .group_by(PayoutLine.store_id)
        .subquery()
    )
    query = (
        select(
            Store.code,
            Store.name,
            Store.kana,
            Store.category,
            Store.area,
            Store.address,
            Store.phone,
            Store.hours,
            Store.state,
            func.coalesce(used.c.n, 0),
            func.coalesce(used.c.amount, 0),
            func.coalesce(paid.c.amount, 0),
        )
        .outerjoin(used, used.c.store_id == Store.id)
        .outerjoin(paid, paid.c.store_id == Store.id)
        .order_by(Store.code)
    )
    for row in _stream(db, query):
        code, name, kana, category, area, address, phone, hours, state, n, amount, paid_ = row
        yield (
            code,
            name,
            kana,
            category,
            AREAS.get(area, area),
            address,
            phone,
            hours,
            label(store_wf.MACHINE, state),
            int(n),
            int(amount),
            int(paid_),
        )


register(
    Kind(
        "stores",
        "登録店舗(1店1行)",
        (
            "店舗コード",
            "店舗名",
            "店舗名カナ",
            "業種",
            "地区",
            "住所",
            "電話番号",
            "営業時間",
            "状態",
            "利用件数",
            "利用額(円)",
            "振込済額(円)",
        ),
        lambda db, ctx: db.scalar(select(func.count()).select_from(Store)) or 0,
        _stores_rows,
        personal=False,
    )
)


# --- the call centre's records (issue 12) -----------------------------------------------------


def _table_kind(name: str, title: str, header, table, personal: bool) -> Kind:
    """A kind whose rows another domain builds as one table (`table(db)` -> (header, rows))."""
    return Kind(
        name,
        title,
        tuple(header),
        lambda db, ctx: len(table(db)[1]),
        lambda db, ctx: iter(table(db)[1]),
        personal=personal,
    )


register(
    _table_kind(
        "inquiries",
        "コールセンターの記録",
        callcenter_reports.HEADER,
        callcenter_reports.rows,
        True,
    )
)
register(_table_kind("access-log", "個人情報の閲覧記録", access.HEADER, access.rows, True))
# The audit log of staff actions (issue 14): staff accounts and addresses, no resident's data.
register(
    Kind(
        "staff-actions",
        "職員の操作記録",
        tuple(actions.HEADER),
        lambda db, ctx: actions.count(db),
        lambda db, ctx: actions.rows(db),
        personal=False,
    )
)


# --- running an export ------------------------------------------------------------------------------


def kind_of(name: str) -> Kind:
    kind = KINDS.get(name)
    if kind is None:
        raise Invalid(f"出力の種類「{name}」はありません。", code="UNKNOWN_EXPORT")
    return kind


def check_options(fmt: str, encoding: str) -> None:
    if fmt not in FORMATS:
        raise Invalid("形式は xlsx か csv を選んでください。", code="INVALID")
    if encoding not in sheets.ENCODINGS:
        raise Invalid("文字コードは utf-8-sig か cp932 を選んでください。", code="INVALID")


def context(db: Session) -> Context:
    campaign = definition.latest(db)
    if campaign is None:
        return Context(JST, None)
    return Context(ZoneInfo(campaign.timezone), campaign.id)


@dataclasses.dataclass
class Result:
    kind: str
    rows: int
    problems: list[sheets.Problem]


def write(
    db: Session,
    name: str,
    out,
    fmt: str = "xlsx",
    encoding: str = "utf-8-sig",
    *,
    progress: Callable[[int, int], None] | None = None,
    every: int = 1000,
) -> Result:
    """Stream the kind's rows into `out` (a binary file object); `progress(done, total)` is
    called every `every` rows and at the end."""
    check_options(fmt, encoding)
    kind = kind_of(name)
    ctx = context(db)
    total = kind.count(db, ctx) if progress else 0
    table = sheets.writer(out, kind.columns, fmt, encoding, sheet=kind.title.split("(")[0])
    for row in kind.rows(db, ctx):
        table.row(row)
        if progress and table.rows % every == 0:
            progress(table.rows, max(total, table.rows))
    table.close()
    if progress:
        progress(table.rows, table.rows)
    return Result(kind.name, table.rows, table.problems)


def filename(name: str, fmt: str, now: dt.datetime, zone: ZoneInfo = JST) -> str:
    return f"kariya_{name.replace('-', '_')}_{now.astimezone(zone):%Y%m%d_%H%M}.{fmt}"
