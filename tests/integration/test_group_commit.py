"""The rush's group commit (I-2, I-3, I-9; issue 16): many acquisitions in one transaction with
the single path's rules and guarantees, against PostgreSQL, over real HTTP where it matters.

The races of tests/integration/test_acquisition_races.py run with group commit on too (the
default); these tests show that batches do form, that the batch leaves every refusal and the
sell-out to the single path, and that a batch that cannot be written whole changes nothing."""

import dataclasses
import datetime as dt
import json

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from kariya.audit import ledger_check
from kariya.clock import FixedClock
from kariya.coupons import GROUP_COMMIT_KEY, batch, ticker
from kariya.coupons.group_commit import GroupCommit, group_commit
from kariya.documents.models import TermsConsent
from kariya.models import Acquisition, Coupon, IdempotencyRecord, Round
from kariya.settings import settings_of
from tests.helpers import ROUND1, LiveServer, Phone, load_campaign, make_person, storm

pytestmark = pytest.mark.integration

NOW = ROUND1.replace(hour=9)


@pytest.fixture(scope="module")
def server(app):
    srv = LiveServer().start(app)
    yield srv.base
    srv.stop()


def open_round_1(db, set_now, planned):
    campaign = load_campaign(db, total=planned * 6, rounds=6, planned=[planned] * 6)
    set_now(NOW)
    ticker.run_due(db, FixedClock(NOW), actor="test")
    db.commit()
    return campaign


def acquire(phone, key=None):
    headers = {"X-CSRF-Token": phone.token}
    if key:
        headers["Idempotency-Key"] = key
    return phone.call("POST", "/api/v1/acquisitions", headers=headers)


def test_a_crowd_is_written_in_batches_exactly_once_each(server, registry, db, set_now):
    campaign = open_round_1(db, set_now, planned=2_000 * 1_000)
    committer = registry[GROUP_COMMIT_KEY]
    before = (committer.batches, committer.acquired)
    people = [make_person(db, n) for n in range(48)]
    phones = [Phone(server, p.line_user_id) for p in people]
    results = storm([lambda p=p: acquire(p, key=f"k-{id(p)}") for p in phones])
    assert [status for status, _ in results] == [201] * 48
    batches, acquired = committer.batches - before[0], committer.acquired - before[1]
    assert acquired == 48  # every one through the batch, none through the single path
    assert batches < 48  # and some batches held more than one
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Acquisition)) == 48
    assert db.scalar(select(func.count()).select_from(Coupon)) == 4 * 48
    assert db.scalar(select(Round.issued).where(Round.number == 1)) == 48 * 2_000
    assert ledger_check.check(db, campaign).ok
    # Each answer is the resident's own four coupons, and its key replays it.
    for person, phone, (_, body) in zip(people[:5], phones[:5], results[:5], strict=True):
        owned = db.scalars(select(Coupon.id).where(Coupon.person_id == person.id)).all()
        assert sorted(c["id"] for c in body["coupons"]) == sorted(owned)
        assert acquire(phone, key=f"k-{id(phone)}") == (201, body)
    assert acquire(phones[0])[1]["error"] == "ALREADY_ACQUIRED"


def make_asks(db, people):
    return [batch.Ask(p.id, NOW) for p in people]


def test_the_batch_takes_only_those_the_single_path_would_take(db, set_now):
    """No profile, terms not agreed, blocked, withdrawn, a returning account, and one who
    acquired already: the batch leaves each to the single path, which says why."""
    open_round_1(db, set_now, planned=2_000 * 100)
    ok = [make_person(db, n) for n in range(3)]
    no_profile = make_person(db, 10, profile=False)
    no_terms = make_person(db, 11)
    db.execute(sa.delete(TermsConsent).where(TermsConsent.person_id == no_terms.id))
    blocked = make_person(db, 12)
    blocked.blocked_at = NOW
    withdrawn = make_person(db, 13)
    withdrawn.withdrawn_at = NOW
    returning = make_person(db, 14)
    returning.returned_from_id = ok[0].id
    db.commit()
    acquired = make_person(db, 15)
    first = batch.acquire_many(db, make_asks(db, [acquired]), reserve=1)
    db.commit()
    assert list(first) == [acquired.id]

    people = ok + [no_profile, no_terms, blocked, withdrawn, returning, acquired]
    answers = batch.acquire_many(db, make_asks(db, people), reserve=1)
    db.commit()
    assert sorted(answers) == sorted(p.id for p in ok)
    assert all(len(answers[p.id]["coupons"]) == 4 for p in ok)
    assert db.scalar(select(func.count()).select_from(Acquisition)) == 4
    assert db.scalar(select(Round.issued).where(Round.number == 1)) == 4 * 2_000


def test_the_batch_never_sells_out_it_takes_what_fits_and_leaves_the_rest(db, set_now):
    """Near the end the batch takes the first asks that leave `reserve` packs, the rest go the
    single path (which sells the round out through its machine); with nothing that fits, the
    batch changes nothing."""
    campaign = open_round_1(db, set_now, planned=2_000 * 5)
    people = [make_person(db, n) for n in range(6)]
    answers = batch.acquire_many(db, make_asks(db, people), reserve=1)  # 5 packs left
    db.commit()
    assert sorted(answers) == sorted(p.id for p in people[:4])  # in their order of arrival
    rnd = db.scalar(select(Round).where(Round.number == 1))
    assert (rnd.issued, rnd.state) == (4 * 2_000, "open")  # the last pack is the single path's
    with pytest.raises(batch.Fallback):  # 1 pack left: nothing fits
        batch.acquire_many(db, make_asks(db, people[4:]), reserve=1)
    db.rollback()
    db.refresh(rnd)
    assert (rnd.issued, rnd.state) == (4 * 2_000, "open")
    assert db.scalar(select(func.count()).select_from(Acquisition)) == 4
    assert ledger_check.check(db, campaign).ok


def test_a_batch_that_fails_leaves_every_ask_to_the_single_path(session_factory, db, set_now):
    open_round_1(db, set_now, planned=2_000 * 100)
    people = [make_person(db, n) for n in range(3)]
    # A key already taken by another request: the whole batch rolls back, nothing written.
    db.add(
        IdempotencyRecord(
            person_id=people[1].id,
            key="taken",
            request_hash="x" * 64,
            status=0,
            body="",
            created_at=NOW,
        )
    )
    db.commit()
    committer = GroupCommit(session_factory, window=0.05, max_batch=10, reserve=1, wait=10)
    asks = [batch.Ask(p.id, NOW, "taken", "y" * 64) for p in people]
    results = storm([lambda a=a: committer.acquire(a) for a in asks])
    assert results == [None, None, None]
    assert committer.fallbacks == 3 and committer.acquired == 0
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Acquisition)) == 0
    assert db.scalar(select(func.count()).select_from(Coupon)) == 0
    # Without the clash the same committer writes them together.
    asks = [batch.Ask(p.id, NOW, f"fresh-{p.id}", "y" * 64) for p in people]
    results = storm([lambda a=a: committer.acquire(a) for a in asks])
    assert all(r is not None and len(r["coupons"]) == 4 for r in results)
    stored = db.scalars(select(IdempotencyRecord.body).where(IdempotencyRecord.status == 201))
    assert sorted(json.loads(b)["coupons"][0]["id"] for b in stored) == sorted(
        r["coupons"][0]["id"] for r in results
    )


def test_a_batch_writes_the_same_statements_for_one_ask_or_forty(engine, db, set_now):
    """The database's work per batch does not grow with its size (what makes it cheaper); and
    but for the keys' records, neither does its text: each statement is compiled once a process
    and sent as it is (issue 16: rewriting long texts was most of a batch's CPU)."""
    open_round_1(db, set_now, planned=2_000 * 100)
    people = [make_person(db, n) for n in range(41)]
    counts, texts = [], []
    for group in (people[:1], people[1:]):
        statements: list[str] = []
        listener = lambda *args, seen=statements: seen.append(args[2])  # noqa: E731
        sa.event.listen(engine, "before_cursor_execute", listener)
        try:
            asks = [batch.Ask(p.id, NOW, f"k{p.id}", "z" * 64) for p in group]
            assert len(batch.acquire_many(db, asks, reserve=1)) == len(group)
            db.commit()
        finally:
            sa.event.remove(engine, "before_cursor_execute", listener)
        counts.append(len(statements))
        texts.append([text for text in statements if "idempotency_record" not in text])
    assert counts[0] == counts[1] <= 8, counts
    assert texts[0] == texts[1]


def test_asks_made_before_the_round_began_are_left_to_the_single_path(db, set_now):
    open_round_1(db, set_now, planned=2_000 * 100)
    early, on_time = make_person(db, 1), make_person(db, 2)
    rnd = db.scalar(select(Round).where(Round.number == 1))
    asks = [batch.Ask(early.id, rnd.starts - dt.timedelta(seconds=1)), batch.Ask(on_time.id, NOW)]
    assert list(batch.acquire_many(db, asks, reserve=1)) == [on_time.id]
    db.rollback()


def test_group_commit_is_on_by_default_and_off_with_a_batch_of_one(registry):
    settings = settings_of(registry)
    off = dataclasses.replace(
        settings, acquisition=dataclasses.replace(settings.acquisition, group_commit_max=1)
    )
    assert group_commit(off, {}) is None
    assert isinstance(registry[GROUP_COMMIT_KEY], GroupCommit)


def _reads_of(db, tables):
    """How many times this transaction has read each table (scans of it or of its indexes;
    foreign-key checks are such reads), as PostgreSQL counts them."""
    rows = db.execute(
        sa.text(
            "SELECT relname, seq_scan + coalesce(idx_scan, 0) FROM pg_stat_xact_user_tables"
            " WHERE relname = ANY(:tables)"
        ),
        {"tables": list(tables)},
    ).all()
    return dict(rows)


def test_a_coupon_is_of_its_packs_round_and_person_by_one_key(db, set_now):
    """A coupon's acquisition, round and person are one foreign key, to the acquisition's own
    three: the database refuses a coupon of another person or round than its pack's, and a
    pack's coupons cost it one look-up each, not three (the person's and the round's were 8 of
    a pack's 12; issue 16, I-2)."""
    open_round_1(db, set_now, planned=2_000 * 100)
    people = [make_person(db, n) for n in range(10)]
    before = _reads_of(db, ("person", "round", "acquisition"))
    answers = batch.acquire_many(db, make_asks(db, people), reserve=1)
    reads = _reads_of(db, ("person", "round", "acquisition"))
    coupons = sum(len(answer["coupons"]) for answer in answers.values())
    assert coupons == 4 * len(people)
    grew = {table: reads.get(table, 0) - before.get(table, 0) for table in reads}
    # The person's and the round's are read for the claim and the acquisitions (about one a
    # person), no longer for every coupon; the acquisition once a coupon.
    assert grew["person"] < coupons and grew["round"] < coupons, grew
    assert coupons <= grew["acquisition"] <= coupons + len(people), grew
    db.commit()

    theirs = db.scalars(select(Acquisition).order_by(Acquisition.id)).all()
    mine, other = theirs[0], theirs[1]
    rnd2 = db.scalar(select(Round).where(Round.number == 2))
    for person_id, round_id in ((other.person_id, mine.round_id), (mine.person_id, rnd2.id)):
        refused = pytest.raises(sa.exc.IntegrityError, match="fk_coupon_acquisition_id_acquisition")
        with refused, db.begin_nested():
            db.add(Coupon(acquisition_id=mine.id, person_id=person_id, round_id=round_id, face=500))
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Coupon)) == coupons
