"""Retention: what the programme no longer needs after the hand-over is erased, and the erasure
proves it (D-1: personal data used only for this work; D-2: the records go back to the city).

The four-eyes steps are kariya.reports.handover's (request, decide; workflows/reports.py,
ERASURE); `execute` here runs the approved erasure once:

- PERSONAL, one entry per column that holds personal data (or contact data, or free text people
  typed about a resident), each with its erased value: the residents' LINE ids (`erased:<ref>`),
  their LINE ids' keyed hashes (withdrawals), display names and profile answers; the staff's
  display names (their username, by which the records of who did what name them, stays); the
  staff's addresses in the login and access records; the stores' contact e-mail addresses; the
  mails' addresses, bodies and errors; the call centre's free texts (subject, content,
  escalation summary, answer, notes, identity checks) and the searches typed into the access
  log. tests/unit/test_retention.py sorts every text column of the schema into PERSONAL or a
  reviewed list of the others, so a new column is classified before it ships;
- DELETED, whole records: the replay records (first answers), the uploaded files, the contents
  of the exports and of the hand-over ZIP stored for download (the city has it: the request
  names its SHA-256), and the access records older than the retention period
  (`kariya.privacy.access_log_days`, or `--before`).

The proof (stored in the request with its SHA-256, printed by the command) lists what each
entry erased, then re-runs one check query per personal column (printed as SQL, to be run
again by anyone) that must find no row holding personal data, then every table's row count, and
shows that the money records (acquisitions, coupons, uses, postings, payouts: pseudonymous, by
`person_ref`) kept every row and that the ledger check still passes. Anything left refuses the
erasure (ERASURE_INCOMPLETE) and the transaction rolls back.

Refused while something would still need what it erases: a mail waiting to be sent, an inquiry
not yet closed, an account transfer awaiting the city, an export still running. `kariya
retention check` runs the check queries at any time (read only): before the erasure it is the
inventory of personal data, after it the proof that nothing came back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Table, cast, delete, func, literal, select, update
from sqlalchemy import String as SqlString
from sqlalchemy.orm import Session

from kariya.audit import ledger_check
from kariya.audit.access import SEARCH
from kariya.audit.models import AccessRecord
from kariya.callcenter.models import Inquiry, InquiryEvent, PersonTransfer
from kariya.campaign import definition
from kariya.clock import JST
from kariya.coupons.models import Acquisition, Coupon
from kariya.errors import Conflict
from kariya.ledger.models import LedgerEntry, LedgerPosting
from kariya.mail.models import OutboundMail
from kariya.orm import Base
from kariya.payouts.models import (
    PayoutAdjustment,
    PayoutBatch,
    PayoutHold,
    PayoutItem,
    PayoutLine,
)
from kariya.redemptions.models import Redemption, StoreUse
from kariya.reports.models import ErasureRequest, ExportJob, ExportJobChunk
from kariya.residents.models import IdempotencyRecord, Person
from kariya.residents.withdrawal import ERASED_PREFIX
from kariya.settings import Settings
from kariya.staff.models import LoginAttempt, StaffUser
from kariya.stores.importer.models import UploadedFile
from kariya.stores.models import Store
from workflows import inquiry as inquiry_wf
from workflows import mail as mail_wf
from workflows import reports as reports_wf
from workflows.binding import fire


def _blank(_t: Table):
    return literal("")


def _null(_t: Table):
    return None


@dataclasses.dataclass(frozen=True)
class Personal:
    """A column holding personal data, the value it holds once erased, and (optionally) which
    rows of the table it concerns."""

    model: type
    column: str
    label: str
    erased: Callable[[Table], ColumnElement | None]
    where: Callable[[Table], ColumnElement[bool]] | None = None

    @property
    def table(self) -> Table:
        return self.model.__table__

    def holds(self) -> ColumnElement[bool]:
        """The rows that still hold personal data in this column."""
        t = self.table
        erased = self.erased(t)
        column = t.c[self.column]
        held = column.is_not(None) if erased is None else column.is_distinct_from(erased)
        return held if self.where is None else held & self.where(t)

    def check_query(self):
        return select(func.count()).select_from(self.table).where(self.holds())

    def sql(self, db: Session) -> str:
        statement = self.check_query().compile(
            dialect=db.get_bind().dialect, compile_kwargs={"literal_binds": True}
        )
        return " ".join(str(statement).split())


PERSONAL: tuple[Personal, ...] = (
    Personal(
        Person,
        "line_user_id",
        "市民のLINEの識別子",
        lambda t: literal(ERASED_PREFIX) + t.c.ref,
    ),
    Personal(Person, "line_hash", "退会した市民のLINEの識別子の鍵つきハッシュ", _null),
    Personal(Person, "display_name", "市民のLINEの表示名", _blank),
    Personal(Person, "age_band", "市民の年代", _null),
    Personal(Person, "area", "市民のお住まいの地区", _null),
    Personal(
        StaffUser, "display_name", "職員の表示名(ログイン名だけ残します)", lambda t: t.c.username
    ),
    Personal(LoginAttempt, "address", "職員ログインの接続元アドレス", _blank),
    Personal(Store, "email", "登録店の連絡先メールアドレス", _blank),
    Personal(
        OutboundMail,
        "to_addr",
        "メールの宛先",
        lambda t: literal(ERASED_PREFIX) + cast(t.c.id, SqlString),
    ),
    Personal(OutboundMail, "body", "メールの本文", _blank),
    Personal(OutboundMail, "last_error", "メールの送信エラー(宛先を含むことがあります)", _blank),
    Personal(Inquiry, "subject", "お問い合わせの件名", _blank),
    Personal(Inquiry, "body", "お問い合わせの内容", _blank),
    Personal(Inquiry, "escalation_summary", "市への報告の要旨", _blank),
    Personal(Inquiry, "answer", "市の回答", _blank),
    Personal(InquiryEvent, "note", "お問い合わせの経過のメモ", _blank),
    Personal(PersonTransfer, "identity_check", "アカウント移行の本人確認の記録", _blank),
    Personal(AccessRecord, "address", "閲覧の記録の接続元アドレス", _blank),
    Personal(
        AccessRecord,
        "detail",
        "閲覧の記録のうち、検索した語(表示名など)",
        _blank,
        lambda t: t.c.action == SEARCH,
    ),
    Personal(ExportJob, "problems", "出力で表せなかった文字の一覧(セルの値を含みます)", _blank),
)

# Money records: never touched by the erasure (pseudonymous: residents by person_ref).
MONEY = (
    Acquisition,
    Coupon,
    Redemption,
    StoreUse,
    LedgerEntry,
    LedgerPosting,
    PayoutBatch,
    PayoutLine,
    PayoutItem,
    PayoutAdjustment,
    PayoutHold,
)

FILE_ERASED = "個人情報の消去のため、ファイルの中身を削除しました。"


def _deletions(cutoff: dt.datetime) -> tuple[tuple[str, type, ColumnElement[bool] | None], ...]:
    """Whole records the programme no longer needs: (label, model, which rows; None: all)."""
    return (
        ("二重送信の防止の記録(最初の答え)", IdempotencyRecord, None),
        ("取り込んだファイル(店舗一覧のExcel)", UploadedFile, None),
        ("出力ファイル・引き渡しデータ(ZIP)の中身", ExportJobChunk, None),
        ("保存期間を過ぎた閲覧・出力の記録", AccessRecord, AccessRecord.at < cutoff),
    )


def cutoff_of(settings: Settings, now: dt.datetime, before: dt.datetime | None = None):
    """Access records before this instant go: `before`, or the retention period before now."""
    return before or now - dt.timedelta(days=settings.privacy.access_log_days)


def remaining(db: Session, cutoff: dt.datetime) -> list[tuple[str, str, int]]:
    """Per personal column, and for the records past their retention: (what, table.column or
    table, rows still holding it). All zero after the erasure."""
    found = [
        (p.label, f"{p.table.name}.{p.column}", db.scalar(p.check_query()) or 0) for p in PERSONAL
    ]
    for label, model, where in _deletions(cutoff):
        query = select(func.count()).select_from(model)
        if where is not None:
            query = query.where(where)
        found.append((label, model.__tablename__, db.scalar(query) or 0))
    return found


def _refuse_while_needed(db: Session) -> None:
    pending = db.scalar(
        select(func.count())
        .select_from(OutboundMail)
        .where(OutboundMail.state == mail_wf.S.pending)
    )
    if pending:
        raise Conflict(
            f"送信待ちのメールが{pending}件あります。送信が済んでから消去してください。",
            code="MAIL_PENDING",
        )
    finished = (inquiry_wf.S.closed, inquiry_wf.S.merged)
    unfinished = db.scalar(
        select(func.count()).select_from(Inquiry).where(Inquiry.state.not_in(finished))
    )
    if unfinished:
        raise Conflict(
            f"完了していないお問い合わせが{unfinished}件あります。完了してから消去してください。",
            code="INQUIRIES_OPEN",
        )
    transfers = db.scalar(
        select(func.count())
        .select_from(PersonTransfer)
        .where(PersonTransfer.state == inquiry_wf.T.requested)
    )
    if transfers:
        raise Conflict(
            f"承認待ちのアカウント移行が{transfers}件あります。判断が済んでから消去してください。",
            code="TRANSFERS_OPEN",
        )
    running = db.scalar(
        select(func.count())
        .select_from(ExportJob)
        .where(ExportJob.state.in_(reports_wf.UNFINISHED))
    )
    if running:
        raise Conflict(
            "データの出力が処理中です。完了してから消去してください。", code="EXPORT_RUNNING"
        )


def _counts(db: Session, models) -> dict[str, int]:
    return {m.__tablename__: db.scalar(select(func.count()).select_from(m)) or 0 for m in models}


def erase(db: Session, cutoff: dt.datetime) -> tuple[list[tuple[Personal, int]], list]:
    """Erase every personal column and delete the records no longer needed; returns what each
    step changed (rows)."""
    erased = []
    for p in PERSONAL:
        t = p.table
        value = p.erased(t)
        n = db.execute(update(t).where(p.holds()).values({p.column: value})).rowcount
        erased.append((p, n))
    deleted = []
    for label, model, where in _deletions(cutoff):
        statement = delete(model)
        if where is not None:
            statement = statement.where(where)
        deleted.append((label, model.__tablename__, db.execute(statement).rowcount))
    db.execute(
        update(ExportJob).where(ExportJob.state == reports_wf.S.done).values(message=FILE_ERASED)
    )
    return erased, deleted


def execute(
    db: Session,
    clock,
    settings: Settings,
    row: ErasureRequest,
    *,
    actor: str,
    before: dt.datetime | None = None,
) -> str:
    """Run the approved erasure once (the machine refuses a second run) and return its proof."""
    now = clock.now()
    fire(db, reports_wf.ERASURE, row, "execute", actor=actor, now=now, reason="個人情報の消去")
    _refuse_while_needed(db)
    cutoff = cutoff_of(settings, now, before)
    money_before = _counts(db, MONEY)
    erased, deleted = erase(db, cutoff)
    row.executed_by, row.executed_at = actor, now
    row.proof = proof(db, row, erased=erased, deleted=deleted, cutoff=cutoff, money=money_before)
    row.proof_sha256 = hashlib.sha256(row.proof.encode("utf-8")).hexdigest()
    db.flush()
    return row.proof


def proof(db: Session, row: ErasureRequest, *, erased, deleted, cutoff, money) -> str:
    campaign = definition.latest(db)
    zone = ZoneInfo(campaign.timezone) if campaign else JST
    when = lambda value: f"{value.astimezone(zone):%Y-%m-%d %H:%M}"  # noqa: E731
    lines = [
        "個人情報の消去の記録",
        f"依頼 No.{row.id}: {row.requested_by}({when(row.requested_at)})",
        f"承認: {row.decided_by}({when(row.decided_at)})",
        f"実行: {row.executed_by}({when(row.executed_at)})",
        f"消去の前に引き渡したデータ(ZIP)のSHA-256: {row.handover_sha256}",
        f"閲覧の記録の保存期間: {when(cutoff)} より前の記録を削除",
        "",
        "消去したもの(表.列: 消去した行の数):",
    ]
    lines += [f"  {p.label} ({p.table.name}.{p.column}): {n:,}" for p, n in erased]
    lines += ["", "削除した記録(表: 削除した行の数):"]
    lines += [f"  {label} ({table}): {n:,}" for label, table, n in deleted]
    left = remaining(db, cutoff)
    lines += ["", "確認(個人情報が残っている行の数。列ごとに次のSQLで数えます。すべて0):"]
    for p, (_label, name, n) in zip(PERSONAL, left, strict=False):
        lines.append(f"  {name}: {n:,}  -- {p.sql(db)}")
    for _label, name, n in left[len(PERSONAL) :]:
        lines.append(f"  {name}: {n:,}")
    identifying = ("person.line_user_id", "person.display_name")
    residents = sum(n for _l, name, n in left if name in identifying)
    lines += [
        f"  LINEの識別子か表示名が残っている市民 {residents:,} 人",
        "",
        "残っているもの(表ごとの行数):",
    ]
    for table in sorted(Base.metadata.sorted_tables, key=lambda t: t.name):
        n = db.scalar(select(func.count()).select_from(table)) or 0
        lines.append(f"  {table.name}: {n:,}")
    money_after = _counts(db, MONEY)
    lines += [
        "",
        "お金の記録(消去の対象外、利用者番号のみで管理):",
        "  行数は消去の前と同じ: "
        + ("はい" if money_after == money else f"いいえ({money} → {money_after})"),
    ]
    ok = True
    if campaign is not None:
        report = ledger_check.check(db, campaign)
        f = report.figures
        ok = report.ok
        lines += [
            f"  総額 {f['T']:,}円 / 利用 {f['used']:,}円 / 振込済み {f['paid']:,}円 / "
            f"市へ返還 {f['returned']:,}円",
            f"  資金台帳の検証: {'OK' if report.ok else '不一致あり'}",
        ]
    if any(n for _l, _name, n in left) or money_after != money or not ok:
        raise Conflict(
            "消去できなかった個人情報があるか、お金の記録が変わりました。",
            code="ERASURE_INCOMPLETE",
        )
    return "\n".join(lines) + "\n"


def check_report(db: Session, cutoff: dt.datetime) -> tuple[bool, str]:
    """`kariya retention check`: the check queries now; (nothing left, the report)."""
    left = remaining(db, cutoff)
    lines = ["個人情報の確認(列ごとに、個人情報が残っている行の数)"]
    for p, (label, name, n) in zip(PERSONAL, left, strict=False):
        lines.append(f"  {name} ({label}): {n:,}  -- {p.sql(db)}")
    for label, name, n in left[len(PERSONAL) :]:
        lines.append(f"  {name} ({label}): {n:,}")
    clean = not any(n for _l, _name, n in left)
    lines.append("残っていません" if clean else "残っています")
    return clean, "\n".join(lines) + "\n"
