"""Using coupons at a store by scanning its QR (I-5..I-7, P-5), and the store's void.

Rules, each read from the campaign: 1 coupon needs a bill of at least min_bill_one, 2 used together
need min_bill_two; a person may use at most store_limit_per_round coupons at one store in one
round, in total across visits; only the current round's unexpired coupons; only active stores;
at a store that opted into a staff PIN, the PIN (kariya.redemptions.till).

Race-proof in one transaction: the per (person, store, round) counter is taken with a conditional
upsert (two phones of one person queue on that row and cannot pass the limit), the coupons are
moved with a compare-and-set (`coupons.use`), and any refusal rolls all of it back.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import unicodedata
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from kariya.campaign import rules as campaign_rules
from kariya.campaign.models import Round
from kariya.clock import to_jst
from kariya.coupons import acquisition, lifecycle
from kariya.coupons.models import Coupon
from kariya.errors import Conflict, DomainError, Invalid, NotFound
from kariya.orm import upsertable
from kariya.redemptions import till as at_till
from kariya.redemptions.models import Redemption, StoreUse
from kariya.residents import profiles, withdrawal
from kariya.residents.models import Person
from kariya.stores import qr
from kariya.stores.finder import store_json
from kariya.stores.models import Store
from workflows import coupon as coupon_wf
from workflows import redemption as redemption_wf
from workflows import store as store_wf
from workflows.binding import fire

# Sanity bound on what a person can type as a bill (not a campaign rule): refuses typos.
MAX_BILL = 10_000_000
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


class BadQr(DomainError):
    code = "BAD_QR"
    status = 404
    message = "このQRコードは使えません。古いQRコードか、読み取りに失敗した可能性があります。お店の人に確認してください。"


class StoreNotActive(Conflict):
    code = "STORE_NOT_ACTIVE"
    message = "このお店では現在、割引券を使えません。"


class BillTooLow(DomainError):
    code = "BILL_TOO_LOW"
    status = 422


class StoreLimit(DomainError):
    code = "STORE_LIMIT"
    status = 422


class InvalidBill(Invalid):
    code = "INVALID_BILL"


def parse_bill(value) -> int:
    """A bill as people type it: "１，２００" and "1,200円" are 1200."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidBill("お会計の金額を数字で入力してください。")
    text = unicodedata.normalize("NFKC", str(value)).strip()
    text = re.sub(r"[,\s円¥]", "", text)
    if not re.fullmatch(r"-?\d{1,12}", text):
        raise InvalidBill("お会計の金額を数字で入力してください。")
    amount = int(text)
    if amount <= 0:
        raise InvalidBill("お会計の金額は1円以上で入力してください。")
    if amount > MAX_BILL:
        raise InvalidBill(
            f"お会計の金額が大きすぎます({MAX_BILL:,}円まで)。入力を確認してください。"
        )
    return amount


def store_for_token(db: Session, token: str) -> Store:
    """Only a store's current token is valid: a reissued (revoked) one is unknown."""
    store = qr.find_by_token(db, token)
    if store is None:
        raise BadQr()
    if store.state != store_wf.S.active:
        raise StoreNotActive()
    return store


def _used_here(db: Session, person_id: int, store_id: int, round_id: int) -> int:
    return (
        db.scalar(
            select(StoreUse.used).where(
                StoreUse.person_id == person_id,
                StoreUse.store_id == store_id,
                StoreUse.round_id == round_id,
            )
        )
        or 0
    )


def preview(
    db: Session, clock, person_id: int, token: str, till: at_till.Till | None = None
) -> dict:
    """What GET /api/v1/qr/{token} answers: the store, and how many coupons the person may
    still use there now; with `till`, also what the till asks (`at_till.for_phone`)."""
    store = store_for_token(db, token)
    now = clock.now()
    found = acquisition.current(db, now)
    usable = 0
    if found is not None and found[0].state in lifecycle.USABLE_ROUND_STATES:
        rnd, campaign = found
        unused = db.scalar(
            select(func.count())
            .select_from(Coupon)
            .where(
                Coupon.person_id == person_id,
                Coupon.round_id == rnd.id,
                Coupon.state == coupon_wf.S.issued,
            )
        )
        left_here = campaign.store_limit_per_round - _used_here(db, person_id, store.id, rnd.id)
        usable = max(0, min(unused, left_here, len(_thresholds(campaign))))
    answer = {"store": store_json(store), "usable_here": usable}
    if till is not None:
        answer["till"] = at_till.for_phone(till, store, person_id, now)
    return answer


def _thresholds(campaign) -> list[int]:
    """Minimum bill for using 1, 2, ... coupons at once."""
    return [campaign.min_bill_one, campaign.min_bill_two]


def redemption_json(redemption: Redemption, store: Store, coupon_ids: list[int]) -> dict:
    return {
        "id": redemption.id,
        "store": store_json(store),
        "coupons": coupon_ids,
        "amount": redemption.amount,
        "bill_amount": redemption.bill_amount,
        "confirmation_code": redemption.confirmation_code,
        "used_at": to_jst(redemption.used_at).isoformat(),
    }


def redeem(
    db: Session,
    clock,
    person_id: int,
    token: str,
    count,
    bill,
    pin=None,
    till: at_till.Till | None = None,
) -> dict:
    """Use `count` coupons at the store of `token`; at a store with a staff PIN, `pin` must be
    it (checked with `till`, see kariya.redemptions.till; a store without one reads nothing
    more)."""
    now = clock.now()
    store = store_for_token(db, token)
    found = acquisition.current(db, now)
    if found is None:
        raise lifecycle.OutsidePeriod()
    rnd, campaign = found
    thresholds = _thresholds(campaign)
    if isinstance(count, bool) or count not in range(1, len(thresholds) + 1):
        raise Invalid(
            f"使う枚数は1〜{len(thresholds)}枚で指定してください。", code="INVALID_COUPONS"
        )
    amount_billed = parse_bill(bill)
    person = db.get(Person, person_id)
    if person is not None and person.withdrawn:
        raise withdrawal.Withdrawn()
    if person is not None and person.blocked:
        raise profiles.AccountMoved()
    if person is None or not person.has_profile:
        raise acquisition.ProfileRequired()
    minimum = thresholds[count - 1]
    if amount_billed < minimum:
        raise BillTooLow(
            f"{count}枚使うには、お会計が{minimum:,}円以上必要です(お会計 {amount_billed:,}円)。"
        )
    at_till.check_pin(db, till, store, person_id, pin, now)

    limit = campaign.store_limit_per_round
    if not _take_store_limit(db, person_id, store.id, rnd.id, count, limit):
        left = max(0, limit - _used_here(db, person_id, store.id, rnd.id))
        raise StoreLimit(campaign_rules.of(campaign).store_limit_refusal(left))
    redemption = Redemption(
        person_id=person_id,
        store_id=store.id,
        round_id=rnd.id,
        coupons=count,
        amount=count * campaign.coupon_face,
        bill_amount=amount_billed,
        confirmation_code="".join(secrets.choice(CODE_ALPHABET) for _ in range(6)),
        state=redemption_wf.S.confirmed,
        used_at=now,
    )
    db.add(redemption)
    db.flush()
    ids = lifecycle.use(
        db,
        clock,
        person_id=person_id,
        rnd=rnd,
        count=count,
        ref=f"redemption:{redemption.id}",
        actor=f"person:{person_id}",
        redemption_id=redemption.id,
    )
    return redemption_json(redemption, store, ids)


def _take_store_limit(
    db: Session, person_id: int, store_id: int, round_id: int, count: int, limit: int
) -> bool:
    """Count `count` more coupons against the person's limit at the store in the round, if they
    fit: one statement that makes the counter row or adds to it only while `used + count` stays
    within `limit`. Two phones of one person queue on the row; the second sees the first's count."""
    if count > limit:
        return False
    counters = StoreUse.__table__  # a Core statement: the ORM's bulk machinery costs more
    statement = upsertable(db, counters).values(
        person_id=person_id, store_id=store_id, round_id=round_id, used=count
    )
    taken = db.execute(
        statement.on_conflict_do_update(
            index_elements=["person_id", "store_id", "round_id"],
            set_={"used": counters.c.used + count},
            where=counters.c.used + count <= limit,
        ).returning(counters.c.used)
    ).first()
    return taken is not None


def void(
    db: Session, clock, *, store_id: int, redemption_id: int, actor: str, reason: str
) -> Redemption:
    """Store staff void one of their own store's uses within the campaign's window, in the same
    round; the coupons go back to the person and free the store limit."""
    now = clock.now()
    redemption = db.get(Redemption, redemption_id, with_for_update=True)
    if redemption is None or redemption.store_id != store_id:
        raise NotFound("この取引は見つかりません。")
    if not reason.strip():
        raise Invalid("取消の理由を入力してください。")
    rnd = db.get(Round, redemption.round_id)
    window = dt.timedelta(minutes=rnd.campaign.void_window_minutes)
    if now > redemption.used_at + window:
        raise Conflict(
            f"取消できるのは利用から{rnd.campaign.void_window_minutes}分以内です。",
            code="VOID_WINDOW_PASSED",
        )
    fire(db, redemption_wf.MACHINE, redemption, "void", actor=actor, now=now, reason=reason)
    ids = list(db.scalars(select(Coupon.id).where(Coupon.redemption_id == redemption.id)))
    lifecycle.void(
        db, clock, coupon_ids=ids, rnd=rnd, ref=f"void:{redemption.id}", actor=actor, reason=reason
    )
    db.execute(
        update(StoreUse)
        .where(
            StoreUse.person_id == redemption.person_id,
            StoreUse.store_id == store_id,
            StoreUse.round_id == rnd.id,
        )
        .values(used=StoreUse.used - redemption.coupons)
    )
    redemption.voided_at, redemption.voided_by, redemption.void_reason = now, actor, reason[:500]
    db.flush()
    return redemption


def of_store(db: Session, clock, store_id: int, since: dt.datetime | None = None) -> list[dict]:
    """The store's uses (newest first): the portal's live list."""
    now = clock.now()
    query = select(Redemption).where(Redemption.store_id == store_id)
    if since is not None:
        query = query.where(Redemption.used_at >= since)
    rows = db.scalars(query.order_by(Redemption.used_at.desc()).limit(500)).all()
    campaigns = {}
    result = []
    for r in rows:
        if r.round_id not in campaigns:
            campaigns[r.round_id] = db.get(Round, r.round_id).campaign
        campaign = campaigns[r.round_id]
        window = dt.timedelta(minutes=campaign.void_window_minutes)
        result.append(
            {
                "id": r.id,
                "used_at": to_jst(r.used_at, ZoneInfo(campaign.timezone)).isoformat(),
                "coupons": r.coupons,
                "amount": r.amount,
                "bill_amount": r.bill_amount,
                "confirmation_code": r.confirmation_code,
                "state": r.state,
                "voidable": r.state == redemption_wf.S.confirmed and now <= r.used_at + window,
            }
        )
    return result


def of_person(db: Session, person_id: int) -> list[dict]:
    rows = db.execute(
        select(Redemption, Store)
        .join(Store, Store.id == Redemption.store_id)
        .where(Redemption.person_id == person_id)
        .order_by(Redemption.used_at.desc())
    ).all()
    return [
        {
            "used_at": r.used_at,
            "store": s.name,
            "amount": r.amount,
            "bill_amount": r.bill_amount,
            "confirmation_code": r.confirmation_code,
            "voided": r.state == redemption_wf.S.voided,
        }
        for r, s in rows
    ]
