"""Acquisition of a round's coupons (I-1..I-3, I-9): one per person per round, never past quota.

The hot path of the weekly rush, in one short transaction at READ COMMITTED:
  1. read the current round's facts as one plain row (no lock, no ORM objects); refuse at once
     if it is not open (sold out: no write; a process that has seen the sell-out refuses from
     memory for a second, SoldOutMemo);
  2. INSERT the acquisition ... SELECT FROM person WHERE it has a profile, is not blocked nor
     withdrawn, has agreed to the published terms and never withdrew before (returned_from_id
     IS NULL) ... FOR KEY SHARE ... ON CONFLICT (round, person) DO NOTHING: nothing back means
     a record whose account moved to a new one (ACCOUNT_MOVED, a lost-phone transfer), a
     withdrawn one (a session that outlived the withdrawal: UNAUTHENTICATED), no profile
     (PROFILE_REQUIRED), a second try (ALREADY_ACQUIRED; the unique constraint is the
     guarantee), terms not yet agreed to (CONSENT_REQUIRED), or the new record of a LINE
     account that withdrew before; one more query, on that refusal path only, says which. The
     last gets a claim of its own that also requires that no withdrawn record of the account
     acquired in this round (three index lookups; ALREADY_ACQUIRED otherwise), so the account
     acquires once per round (I-2) and the rush's claim carries none of it. The blocked,
     withdrawn and returning checks are columns of the person row the claim reads anyway, the
     consent check is two index lookups inside the claim statement
     (kariya.documents.consent.satisfied), and the row lock is the one the acquisition's
     foreign key takes anyway, taken earlier so that a withdrawal waits for the claim or the
     claim sees the withdrawal (kariya.residents.withdrawal): none costs a round trip;
  3. INSERT its coupons and the ledger entry;
  4. last, take the quota: UPDATE round SET issued = issued + pack WHERE state = 'open' AND
     issued + pack <= quota. PostgreSQL re-checks the WHERE after waiting for a concurrent
     updater, so it cannot oversell (CHECK issued <= quota is the backstop). Doing it last keeps
     the hot row locked only until commit. No row back -> SOLD_OUT, and the exception rolls the
     whole transaction back: no acquisition without quota, no quota without coupons.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    bindparam,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased

from kariya.campaign.models import Campaign, Round
from kariya.clock import to_jst
from kariya.coupons import rounds as round_service
from kariya.coupons.models import Acquisition, Coupon
from kariya.documents import consent
from kariya.errors import Conflict, DomainError
from kariya.ledger import postings
from kariya.orm import UTCDateTime, insert_or_skip
from kariya.residents import profiles, withdrawal
from kariya.residents.models import Person
from kariya.settings import Settings
from workflows import coupon as coupon_wf
from workflows import round as round_wf


class ProfileRequired(DomainError):
    code = "PROFILE_REQUIRED"
    status = 403
    message = "はじめに年代とお住まいの地区を登録してください。"


class ConsentRequired(DomainError):
    code = "CONSENT_REQUIRED"
    status = 403
    message = (
        "利用規約・プライバシーポリシーが改定されました。"
        "新しい内容をご確認のうえ同意してから、割引券を受け取ってください。"
    )


class AlreadyAcquired(Conflict):
    code = "ALREADY_ACQUIRED"
    message = "今回分の割引券はすでに取得済みです。次回の配布をお待ちください。"


class SoldOut(Conflict):
    code = "SOLD_OUT"
    message = (
        "今回分の割引券は配布上限に達したため、配布を終了しました。次回の配布をお待ちください。"
    )


class NotOpen(Conflict):
    code = "NOT_OPEN"
    message = "現在は割引券の配布期間ではありません。"


NOT_OPEN_MESSAGES = {
    round_wf.S.scheduled: "まもなく配布を開始します。少し時間をおいてお試しください。",
    round_wf.S.halted: "市の判断により、割引券の配布を停止しています。",
    round_wf.S.closed: "今回の配布は終了しました。",
    round_wf.S.settled: "今回の配布は終了しました。",
}


class SoldOutMemo:
    """Per process: the round last seen sold out, so the late arrivals of the rush are answered
    without reaching the database (PATTERNS.md: admission control). Remembered for `seconds`
    (setting kariya.acquisition.sold_out_memo_seconds) and never past the round's end; a halt
    decided meanwhile is answered as SOLD_OUT for at most about twice that long. Only ever used
    to refuse. Off (None) with a settable clock, which may move back: it assumes time only goes
    forward.

    Past its time, the first request to ask looks again and the process's other late arrivals
    are still refused while it looks (for at most `seconds`, should it never come back): after a
    sell-out the database sees one late arrival a second per process, not every arrival of that
    moment. Those had queued for the connection pool, and under the rush newer requests kept
    taking the connections first: some waited 2-7 s for their SOLD_OUT (issue 16)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._lock = threading.Lock()
        self._until = 0.0  # time.monotonic()
        self._looking = 0.0  # time.monotonic() until which one request is looking again
        self._round_ends = None

    def remember(self, rnd: Round) -> None:
        with self._lock:
            self._until = time.monotonic() + self.seconds
            self._looking = 0.0
            self._round_ends = rnd.ends

    def forget(self) -> None:
        """The database says the round is not sold out (halted, closed, another round)."""
        if self._round_ends is None:
            return
        with self._lock:
            self._until = self._looking = 0.0
            self._round_ends = None

    def remembers(self, now) -> bool:
        """Within the memo's time (no request is sent to look again)."""
        with self._lock:
            ends, until = self._round_ends, self._until
        return ends is not None and now < ends and time.monotonic() < until

    def refuses(self, now) -> bool:
        """True: refuse from memory. False: ask the database; past the memo's time the request
        asked False is the one that looks again, and the others are refused meanwhile."""
        with self._lock:
            if self._round_ends is None or now >= self._round_ends:
                return False
            clock = time.monotonic()
            if clock < self._until or clock < self._looking:
                return True
            self._looking = clock + self.seconds
            return False


def sold_out_memo(settings: Settings) -> SoldOutMemo | None:
    seconds = settings.acquisition.sold_out_memo_seconds
    if seconds <= 0 or settings.clock_settable:
        return None
    return SoldOutMemo(seconds)


def of_current_round(now, *columns):
    """Select `columns` of the round whose usage period contains now (of the newest campaign)."""
    return (
        select(*columns)
        .join(Campaign, Campaign.id == Round.campaign_id)
        .where(Round.starts <= now, Round.ends > now)
        .order_by(Round.campaign_id.desc())
        .limit(1)
    )


def current(db: Session, now) -> tuple[Round, Campaign] | None:
    """The round whose usage period contains now (of the newest campaign), with its campaign."""
    row = db.execute(of_current_round(now, Round, Campaign)).first()
    return None if row is None else (row[0], row[1])


def refusal(rnd) -> DomainError | None:
    """Why a round (a Round, or a row with its state) is not taking acquisitions, or None."""
    if rnd is None:
        return NotOpen()
    if rnd.state == round_wf.S.sold_out:
        return SoldOut()
    if rnd.state != round_wf.S.open:
        return NotOpen(NOT_OPEN_MESSAGES.get(rnd.state))
    return None


def coupon_json(coupon: Coupon, rnd: Round) -> dict:
    return {
        "id": coupon.id,
        "round": rnd.number,
        "face": coupon.face,
        "state": coupon.state,
        "expires_at": to_jst(rnd.ends).isoformat(),
    }


def _current_facts(db: Session, now):
    """What an acquisition needs of the current round and its campaign, as one plain row (no
    ORM objects on the hot path): round id, number, state, end; campaign id, face, coupons."""
    return db.execute(
        of_current_round(
            now,
            Round.id,
            Round.number,
            Round.state,
            Round.ends,
            Round.campaign_id,
            Campaign.coupon_face,
            Campaign.coupons_per_pack,
        )
    ).first()


# Built once: the claim's consent check (the same clause for every person; SQL correlates it).
AGREED = consent.satisfied(Person.id)
# Who may acquire (I-2), as the claims' conditions on the person row: a profile, not blocked,
# not withdrawn, the published terms agreed to. The single path's claim and the rush's batch
# (kariya.coupons.batch) both take these.
MAY_ACQUIRE = (
    Person.profile_at.is_not(None),
    Person.blocked_at.is_(None),
    Person.withdrawn_at.is_(None),
    AGREED,
)

_EARLIER = aliased(Person, name="earlier")  # the latest withdrawn record of a returning account
_SAME = aliased(Person, name="same_account")  # every withdrawn record with the same hash


def _not_acquired_by_earlier(round_id) -> ColumnElement[bool]:
    """True unless the person (the `person` row of the enclosing statement) is the new record of
    a LINE account that withdrew before and one of that account's withdrawn records acquired in
    this round (I-2: the account acquires once per round, whatever it tries). For everyone else
    the first test decides and nothing is looked up."""
    earlier = (
        select(Acquisition.id)
        .join(_SAME, _SAME.id == Acquisition.person_id)
        .join(_EARLIER, _EARLIER.line_hash == _SAME.line_hash)
        .where(Acquisition.round_id == round_id, _EARLIER.id == Person.returned_from_id)
        .exists()
    )
    return or_(Person.returned_from_id.is_(None), ~earlier)


def _own_acquisition(round_id) -> ColumnElement[bool]:
    """The person (of the enclosing statement) acquired in this round."""
    return (
        select(Acquisition.id)
        .where(Acquisition.round_id == round_id, Acquisition.person_id == Person.id)
        .exists()
    )


def _acquired(round_id) -> ColumnElement[bool]:
    """The person (of the enclosing statement) or their LINE account acquired in this round."""
    return _own_acquisition(round_id) | ~_not_acquired_by_earlier(round_id)


def _why_not_claimed(db: Session, round_id: int, person_id: int) -> DomainError | None:
    """The claim gave no row: the account moved to another record (a lost-phone transfer), the
    person withdrew, no profile, acquired already, or the terms not agreed to. None: the person
    is the new record of a LINE account that withdrew before (the plain claim leaves such a
    person to the returning claim, which alone decides whether the account acquired)."""
    row = db.execute(
        select(
            Person.blocked_at.is_not(None),
            Person.withdrawn_at.is_not(None),
            Person.profile_at.is_not(None),
            _own_acquisition(round_id),
            consent.satisfied(Person.id),
            Person.returned_from_id.is_not(None),
        ).where(Person.id == person_id)
    ).first()
    if row is not None and row[1]:
        return withdrawal.Withdrawn()
    if row is not None and row[0]:
        return profiles.AccountMoved()
    if row is None or not row[2]:
        return ProfileRequired()
    if row[3]:
        return AlreadyAcquired()
    if not row[4]:
        return ConsentRequired()
    if row[5]:
        return None
    return AlreadyAcquired()  # a double tap: the first claim holds the (round, person) row


def _claim(db: Session, rnd, person_id: int, pack: int, now, *, returning: bool):
    """INSERT the acquisition if the person may acquire; its id, or None. The profile, blocked,
    withdrawn and consent checks ride on the claim: only a person with a profile, not moved to a
    new record nor withdrawn, who has agreed to the published terms yields a row to insert. The
    plain claim (the rush) takes only people who never withdrew (`returned_from_id IS NULL`: a
    column test, no lookup); the returning claim, made only for the new record of a LINE account
    that withdrew before, adds that no withdrawn record of the account acquired this round.
    FOR KEY SHARE: the lock the foreign key takes anyway, taken before the checks, so that a
    concurrent withdrawal is waited for and then seen."""
    acquisitions = Acquisition.__table__
    account = _not_acquired_by_earlier(rnd.id) if returning else Person.returned_from_id.is_(None)
    return db.scalar(
        insert_or_skip(db, acquisitions, on=["round_id", "person_id"])
        .from_select(
            ["round_id", "person_id", "amount", "created_at"],
            select(literal(rnd.id), Person.id, literal(pack), literal(now, UTCDateTime))
            .where(Person.id == person_id, *MAY_ACQUIRE, account)
            .with_for_update(read=True, key_share=True),
        )
        .returning(acquisitions.c.id)
    )


def _take_quota():
    """The quota, taken last: `amount` yen off the round's quota if it is open and `kept` yen
    stay after it (0 on the single path; the batch keeps its reserve). PostgreSQL re-checks the
    WHERE after waiting for a concurrent updater, so it cannot oversell. Returns (issued,
    quota) after, or no row."""
    rounds = Round.__table__
    amount = bindparam("amount", type_=BigInteger)
    return (
        update(rounds)
        .where(
            rounds.c.id == bindparam("round_id", type_=Integer),
            rounds.c.state == round_wf.S.open,
            rounds.c.issued + amount <= rounds.c.quota - bindparam("kept", type_=BigInteger),
        )
        .values(issued=rounds.c.issued + amount)
        .returning(rounds.c.issued, rounds.c.quota)
    )


TAKE_QUOTA = _take_quota()  # built once: one statement, one text (issue 16)


def pack_coupons(rnd, acquisition_id: int, person_id: int) -> list[dict]:
    """The coupon rows of one pack (the current round's facts as one row: id, face, count)."""
    return [
        {
            "acquisition_id": acquisition_id,
            "person_id": person_id,
            "round_id": rnd.id,
            "face": rnd.coupon_face,
            "state": coupon_wf.S.issued,
        }
        for _ in range(rnd.coupons_per_pack)
    ]


def acquire(db: Session, clock, person_id: int, memo: SoldOutMemo | None = None) -> dict:
    now = clock.now()
    if memo is not None and memo.remembers(now):
        raise SoldOut()
    rnd = _current_facts(db, now)
    refused = refusal(rnd)
    if memo is not None:
        if isinstance(refused, SoldOut):
            memo.remember(rnd)
        else:
            memo.forget()
    if refused is not None:
        raise refused

    pack = rnd.coupon_face * rnd.coupons_per_pack
    acquisition_id = _claim(db, rnd, person_id, pack, now, returning=False)
    if acquisition_id is None:
        refused = _why_not_claimed(db, rnd.id, person_id)
        if refused is None:  # a returning LINE account: its own claim, with its check
            acquisition_id = _claim(db, rnd, person_id, pack, now, returning=True)
            refused = AlreadyAcquired()  # as an earlier record of the account, or a double tap
        if acquisition_id is None:
            raise refused
    coupons = Coupon.__table__
    coupon_ids = db.scalars(
        insert(coupons).returning(coupons.c.id, sort_by_parameter_order=True),
        pack_coupons(rnd, acquisition_id, person_id),
    ).all()
    postings.post(
        db,
        campaign_id=rnd.campaign_id,
        kind="acquire",
        ref=f"acquire:{acquisition_id}",
        moves=[(postings.quota(rnd.id), postings.outstanding(rnd.id), pack)],
        now=now,
        actor=f"person:{person_id}",
    )
    taken = db.execute(TAKE_QUOTA, {"round_id": rnd.id, "amount": pack, "kept": 0}).first()
    if taken is None:
        state = db.scalar(select(Round.state).where(Round.id == rnd.id))
        if state not in (round_wf.S.open, round_wf.S.sold_out):
            raise NotOpen(NOT_OPEN_MESSAGES.get(state))
        if memo is not None:
            memo.remember(rnd)
        raise SoldOut()
    issued, quota = taken
    if quota - issued < pack:
        # Ours was the last pack: the round is sold out (we hold its row lock already). Not
        # remembered here: this transaction may yet roll back; the next late arrival reads the
        # committed sell-out and remembers it.
        round_row = db.get(Round, rnd.id, populate_existing=True)
        campaign = db.get(Campaign, rnd.campaign_id)
        round_service.sell_out_if_exhausted(
            db, round_row, campaign, actor="system:issuance", now=now
        )
    return {
        "round": rnd.number,
        "coupons": [
            {
                "id": cid,
                "round": rnd.number,
                "face": rnd.coupon_face,
                "state": coupon_wf.S.issued,
                "expires_at": to_jst(rnd.ends).isoformat(),
            }
            for cid in coupon_ids
        ],
    }


def round_status(db: Session, clock, person_id: int | None) -> dict:
    """What GET /api/v1/rounds/current answers: this week's round and whether one may acquire."""
    now = clock.now()
    found = current(db, now)
    if found is None:
        return {
            "round": None,
            "state": None,
            "starts": None,
            "ends": None,
            "quota": 0,
            "remaining_amount": 0,
            "can_acquire": False,
            "reason": NotOpen.code,
        }
    rnd, campaign = found
    refused = refusal(rnd)
    reason = refused.code if refused else None
    if reason is None and person_id is None:
        reason = "UNAUTHENTICATED"
    elif reason is None:
        person = db.execute(
            select(
                Person.profile_at.is_not(None),
                consent.satisfied(Person.id),
                _acquired(rnd.id),
                Person.withdrawn_at.is_not(None),
            ).where(Person.id == person_id)
        ).first()
        if person is not None and person[3]:
            reason = withdrawal.Withdrawn.code
        elif person is None or not person[0]:
            reason = ProfileRequired.code
        elif person[2]:
            reason = AlreadyAcquired.code
        elif not person[1]:
            reason = ConsentRequired.code
    remaining = rnd.quota - rnd.issued
    return {
        "round": rnd.number,
        "state": rnd.state,
        "starts": to_jst(rnd.starts).isoformat(),
        "ends": to_jst(rnd.ends).isoformat(),
        "quota": rnd.quota,
        "remaining_amount": remaining
        if rnd.state not in (round_wf.S.closed, round_wf.S.settled)
        else 0,
        "can_acquire": reason is None,
        "reason": reason,
        "pack_amount": campaign.pack_amount,
    }


def coupons_of(db: Session, person_id: int) -> list[dict]:
    rows = db.execute(
        select(Coupon, Round)
        .join(Round, Round.id == Coupon.round_id)
        .where(Coupon.person_id == person_id)
        .order_by(Round.number.desc(), Coupon.id)
    ).all()
    return [coupon_json(c, r) for c, r in rows]
