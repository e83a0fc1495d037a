"""The fraud rules (issue 15, I-10) on a normal campaign of the full size (tests/fraudgen.py: 600
stores, 20,000 residents, the scan's week and two weeks before it): every rule stays quiet on
it, and raises its flag on the same campaign with one planted pattern. Each test plants in a
transaction that is rolled back, so the campaign stays normal for the next."""

from __future__ import annotations

import datetime as dt
import itertools
import time

import pytest
from sqlalchemy import func, select, text

from kariya.audit.access import Viewer
from kariya.campaign.rules import latest_campaign
from kariya.clock import FixedClock
from kariya.fraud import cases, scan
from kariya.fraud import rules as fraud_rules
from kariya.fraud.findings import Context
from kariya.models import FraudCase, FraudEvidence, Redemption, TransitionRecord
from kariya.settings import parse
from tests import fraudgen
from tests.helpers import JST

SETTINGS = parse({"kariya.session_secret": "test-session-secret"})
NOW = fraudgen.NOW
ROUND3 = fraudgen.ROUND1 + dt.timedelta(weeks=2)  # the scan's week: Monday 29 January 2024
CODES = [rule.code for rule in fraud_rules.RULES]
BURST = ["burst"]  # the case tests scan with the one rule they plant for
_codes = itertools.count(1)


def find(db, code: str, settings=SETTINGS):
    campaign = latest_campaign(db)
    ctx = Context(db, campaign, NOW, settings.fraud, list(campaign.rounds))
    return fraud_rules.BY_CODE[code].find(ctx)


def subjects(findings) -> set[tuple[str, int]]:
    return {(f.subject, f.subject_id) for f in findings}


def at(day: int, hour: int, minute: float = 0) -> dt.datetime:
    """A moment of the scan's week: day 0 is Monday 29 January (JST)."""
    return ROUND3 + dt.timedelta(days=day, hours=hour, minutes=minute)


def round_id(db, moment: dt.datetime) -> int:
    return db.scalar(text("SELECT id FROM round WHERE starts <= :t AND ends > :t"), {"t": moment})


def plant(db, store_id: int, uses: list[tuple[int, dt.datetime]], coupons: int = 1) -> list[int]:
    """Uses (resident, when) at a store, as the redemption service would write them."""
    ids = []
    for person_id, moment in uses:
        ids.append(
            db.scalar(
                text(
                    "INSERT INTO redemption (person_id, store_id, round_id, coupons, amount,"
                    " bill_amount, confirmation_code, state, used_at)"
                    " VALUES (:p, :s, :r, :c, :a, :b, :code, 'confirmed', :t) RETURNING id"
                ),
                {
                    "p": person_id,
                    "s": store_id,
                    "r": round_id(db, moment),
                    "c": coupons,
                    "a": coupons * 500,
                    "b": coupons * 1000 + 200,
                    "code": f"P{next(_codes):05d}",
                    "t": moment,
                },
            )
        )
    return ids


def residents(generated, n: int, *, skip: int = 0) -> list[int]:
    """Residents with a profile, registered before the campaign."""
    found = [
        p[0]
        for p in generated.resident_rows
        if p[1] and p[3] < fraudgen.ROUND1 - dt.timedelta(days=3)
    ]
    return found[skip : skip + n]


def store(generated, *, category: str | None = None, hours: str | None = None, skip: int = 0):
    """An initial store (id, code, category, area, hours, weight) matching what is asked."""
    found = [
        s
        for s in generated.store_rows[: fraudgen.STORES - fraudgen.NEW_STORES]
        if (category is None or s[2] == category) and (hours is None or s[4] == hours)
    ]
    return found[skip]


def quietest_store(db, generated, *, not_in=()) -> int:
    """The initial store with the fewest uses (a small shop)."""
    initial = [s[0] for s in generated.store_rows[: fraudgen.STORES - fraudgen.NEW_STORES]]
    counts = dict(
        db.execute(select(Redemption.store_id, func.count()).group_by(Redemption.store_id)).all()
    )
    return min((s for s in initial if s not in not_in), key=lambda s: (counts.get(s, 0), s))


# --- a normal campaign -----------------------------------------------------------------------------


def test_the_generated_campaign_has_the_full_size(fraud_campaign):
    _engine, generated = fraud_campaign
    assert (generated.stores, generated.residents) == (600, 20_000)
    assert generated.uses > 60_000  # three weeks of about 30,000 uses each


@pytest.mark.parametrize("code", CODES)
def test_each_rule_stays_quiet_on_a_normal_campaign(fraud_db, code):
    """I-10: a normal week (popular and quiet stores, couples at one till, the evening rush of
    registrations, shops next door minutes apart, a few voids) raises nothing."""
    assert find(fraud_db, code) == []


def test_a_scan_of_the_normal_campaign_opens_no_case_and_takes_seconds(fraud_db):
    started = time.perf_counter()
    result = scan.run(fraud_db, FixedClock(NOW), SETTINGS)
    elapsed = time.perf_counter() - started
    assert result.opened == [] and result.extended == []
    assert set(result.findings) == set(CODES) and not any(result.findings.values())
    assert elapsed < 30  # seconds on a loaded 2-core machine (the benchmark gives the figure)


# --- each rule on its planted pattern ----------------------------------------------------------------


def test_takings_far_above_the_category_norm_raise_a_flag(fraud_db, fraud_campaign):
    _engine, generated = fraud_campaign
    target = store(generated, category="飲食", hours="10:00〜20:00")
    people = residents(generated, 350)
    planted = plant(
        fraud_db,
        target[0],
        [(p, at(i % 6, 11 + (i // 6) % 8, (i * 7) % 50)) for i, p in enumerate(people)],
        coupons=2,
    )
    found = find(fraud_db, "takings_norm")
    assert subjects(found) == {("store", target[0])}
    finding = found[0]
    assert finding.marks == {"round:3"} and set(planted) <= finding.uses
    assert finding.figures["ratio"] >= 5 and finding.figures["category"] == "飲食"
    assert "業種「飲食」の店舗" in fraud_rules.describe("takings_norm", finding.figures)


def test_takings_rising_sharply_day_on_day_raise_a_flag(fraud_db, fraud_campaign):
    _engine, generated = fraud_campaign
    target = quietest_store(fraud_db, generated)
    people = residents(generated, 100, skip=400)
    # 100 uses of two coupons on Friday, one every five minutes: no burst, but 100,000 yen.
    plant(fraud_db, target, [(p, at(4, 10, 5 * i)) for i, p in enumerate(people)], coupons=2)
    found = find(fraud_db, "takings_rise")
    assert subjects(found) == {("store", target)}
    assert found[0].marks == {"day:2024-02-02"} and found[0].figures["amount"] >= 100_000
    assert find(fraud_db, "burst") == []


def test_a_burst_of_uses_within_minutes_raises_a_flag(fraud_db, fraud_campaign):
    _engine, generated = fraud_campaign
    target = store(generated, hours="8:00〜21:00")
    people = residents(generated, 12, skip=600)
    planted = plant(fraud_db, target[0], [(p, at(5, 15, i / 3)) for i, p in enumerate(people)])
    found = find(fraud_db, "burst")
    assert subjects(found) == {("store", target[0])}
    assert set(planted) <= found[0].uses and found[0].figures["max_uses"] >= 12


def test_uses_outside_the_opening_hours_raise_a_flag(fraud_db, fraud_campaign):
    _engine, generated = fraud_campaign
    target = store(generated, hours="10:00〜19:00")
    unread = store(generated, hours="")  # hours not given: not checked
    people = residents(generated, 4, skip=700)
    late = [(p, at(1 + i, 23, 30)) for i, p in enumerate(people)]
    planted = plant(fraud_db, target[0], late)
    plant(fraud_db, unread[0], late)
    found = find(fraud_db, "off_hours")
    assert subjects(found) == {("store", target[0])}
    assert found[0].uses == set(planted)
    assert "10:00〜19:00" in fraud_rules.describe("off_hours", found[0].figures)


def test_the_same_residents_at_one_store_round_after_round_raise_a_flag(fraud_db, fraud_campaign):
    _engine, generated = fraud_campaign
    target = quietest_store(fraud_db, generated)
    ring = residents(generated, 4, skip=800)
    uses = []
    for week in range(3):  # rounds 1, 2, 3: the four come together, twice a round each
        base = fraudgen.ROUND1 + dt.timedelta(weeks=week, days=2, hours=13)
        for visit in range(2):
            moment = base + dt.timedelta(days=2 * visit)
            uses += [(p, moment + dt.timedelta(minutes=2 * i)) for i, p in enumerate(ring)]
    planted = plant(fraud_db, target, uses)
    found = find(fraud_db, "ring")
    assert subjects(found) == {("store", target)}
    assert found[0].persons == set(ring) and set(planted) <= found[0].uses
    assert found[0].figures["rounds"] == 3 and found[0].figures["share"] >= 0.3


def test_a_couple_at_one_store_every_round_is_no_ring(fraud_db, fraud_campaign):
    _engine, generated = fraud_campaign
    target = quietest_store(fraud_db, generated)
    couple = residents(generated, 2, skip=900)
    uses = [
        (p, fraudgen.ROUND1 + dt.timedelta(weeks=w, days=1, hours=11, minutes=i))
        for w in range(3)
        for i, p in enumerate(couple)
    ]
    plant(fraud_db, target, uses)
    assert find(fraud_db, "ring") == []


def test_one_resident_at_stores_of_different_districts_within_minutes_raises_a_flag(
    fraud_db, fraud_campaign
):
    _engine, generated = fraud_campaign
    here = store(generated, hours="8:00〜21:00")
    far = next(s for s in generated.store_rows if s[3] != here[3] and s[4] == "8:00〜21:00")
    near = next(
        s
        for s in generated.store_rows
        if s[3] == here[3] and s[0] != here[0] and s[4] == "8:00〜21:00"
    )
    person, neighbour = residents(generated, 2, skip=1000)
    first = plant(fraud_db, here[0], [(person, at(3, 14))])
    second = plant(fraud_db, far[0], [(person, at(3, 14, 3))])
    # Two stores of one district three minutes apart: a shopping street, not a flag.
    plant(fraud_db, here[0], [(neighbour, at(3, 15))])
    plant(fraud_db, near[0], [(neighbour, at(3, 15, 3))])
    found = find(fraud_db, "far_apart")
    assert subjects(found) == {("person", person)}
    assert found[0].uses == set(first + second)
    assert found[0].figures["pairs"][0]["minutes"] == 3.0


def test_a_new_store_with_large_takings_in_its_first_days_raises_a_flag(fraud_db, fraud_campaign):
    _engine, generated = fraud_campaign
    activated = at(3, 9)
    new_id = fraud_db.scalar(
        text(
            "INSERT INTO store (code, name, kana, category, area, address, phone, hours, email,"
            " bank_code, branch_code, account_type, account_number, account_holder_kana,"
            " search_text, state, created_at, updated_at) VALUES ('N0001', '新しい店', 'アタラシイミセ',"
            " '飲食', 'kariya', '', '', '', '', '', '', '', '', '', '', 'active', :t, :t) RETURNING id"
        ),
        {"t": activated - dt.timedelta(days=1)},
    )
    fraud_db.execute(
        text(
            "INSERT INTO transition_record (machine, entity_id, event, from_state, to_state,"
            " actor, reason, at) VALUES ('store', :s, 'activate', 'approved', 'active', 'test',"
            " '', :t)"
        ),
        {"s": new_id, "t": activated},
    )
    people = residents(generated, 120, skip=1100)
    plant(fraud_db, new_id, [(p, activated + dt.timedelta(minutes=20 * i)) for i, p in enumerate(people)], coupons=2)  # fmt: skip
    found = find(fraud_db, "new_store")
    assert subjects(found) == {("store", new_id)}
    assert found[0].marks == {"new"} and found[0].figures["ratio"] >= 3
    # The dozen stores that joined during round 2 with ordinary takings stay quiet meanwhile.
    assert all(f.subject_id == new_id for f in found)


def test_a_bank_account_change_just_before_a_payout_raises_a_flag(fraud_db, fraud_campaign):
    _engine, generated = fraud_campaign
    target = store(generated, category="食料品")
    change = fraud_db.scalar(
        text(
            "INSERT INTO bank_change_request (store_id, bank_code, branch_code, account_type,"
            " account_number, account_holder_kana, previous_account, note, state, requested_by,"
            " requested_at, decided_by, decided_at, decision_reason) VALUES (:s, '0009', '001',"
            " '普通', '7654321', 'ベツメイギ', '', '', 'approved', 'store', :r, 'staff:sec1', :d,"
            " '電話で確認') RETURNING id"
        ),
        {"s": target[0], "r": at(3, 10), "d": at(4, 10)},
    )
    found = find(fraud_db, "bank_change")
    assert subjects(found) == {("store", target[0])}
    assert found[0].bank_changes == {change} and found[0].figures["unpaid"] >= 10_000
    assert found[0].uses == set()  # the takings are the store's: nothing to deduct


def test_many_voids_by_one_store_raise_a_flag(fraud_db, fraud_campaign):
    _engine, generated = fraud_campaign
    counts = fraud_db.execute(
        text(
            "SELECT store_id, count(*) FROM redemption WHERE round_id = :r AND state = 'confirmed'"
            " GROUP BY 1 HAVING count(*) BETWEEN 20 AND 40 ORDER BY 1 LIMIT 1"
        ),
        {"r": round_id(fraud_db, at(0, 12))},
    ).one()
    target = counts[0]
    voided = fraud_db.scalars(
        text(
            "UPDATE redemption SET state = 'voided', voided_at = used_at + interval '3 minutes',"
            " voided_by = 'staff:store' WHERE id IN (SELECT id FROM redemption WHERE store_id = :s"
            " AND round_id = :r AND state = 'confirmed' ORDER BY id LIMIT 8) RETURNING id"
        ),
        {"s": target, "r": round_id(fraud_db, at(0, 12))},
    ).all()
    found = find(fraud_db, "voids")
    assert subjects(found) == {("store", target)}
    assert set(voided) <= found[0].uses and found[0].figures["voids"] >= 8


def test_residents_registered_in_bulk_before_a_round_raise_a_flag(fraud_db):
    first = ROUND3 - dt.timedelta(hours=9)  # Sunday 15:00, the afternoon before round 3
    ids = [
        fraud_db.scalar(
            text(
                "INSERT INTO person (line_user_id, ref, display_name, age_band, area, profile_at,"
                " created_at) VALUES (:u, :ref, '', '70s', 'ogakie', :t, :t) RETURNING id"
            ),
            {"u": f"Ubulk{i:028d}", "ref": f"8{i:011d}", "t": first + dt.timedelta(seconds=20 * i)},
        )
        for i in range(25)
    ]
    found = find(fraud_db, "bulk_residents")
    assert subjects(found) == {("person", ids[0])}
    assert found[0].persons == set(ids)
    assert found[0].figures["round"] == 3 and found[0].figures["members"] == 25


# --- the scan: one case per subject and rule -------------------------------------------------------


def test_a_scan_opens_one_case_per_store_and_a_rescan_adds_evidence_to_it(fraud_db, fraud_campaign):
    _engine, generated = fraud_campaign
    target = store(generated, hours="8:00〜21:00", skip=1)
    people = residents(generated, 24, skip=1200)
    first = plant(fraud_db, target[0], [(p, at(2, 11, i / 3)) for i, p in enumerate(people[:12])])
    result = scan.run(fraud_db, FixedClock(NOW), SETTINGS, only=BURST)
    assert [(c.rule, c.store_id, c.state) for c in result.opened] == [
        ("burst", target[0], "flagged")
    ]
    case = result.opened[0]
    evidence = set(
        fraud_db.scalars(
            select(FraudEvidence.redemption_id).where(FraudEvidence.case_id == case.id)
        )
    )
    assert set(first) <= evidence and len(evidence) < 15  # one case of the burst's uses
    assert (
        scan.run(fraud_db, FixedClock(NOW), SETTINGS, only=BURST).opened == []
    )  # nothing new: nothing

    second = plant(fraud_db, target[0], [(p, at(5, 18, i / 3)) for i, p in enumerate(people[12:])])
    again = scan.run(fraud_db, FixedClock(NOW), SETTINGS, only=BURST)
    assert again.opened == [] and [c.id for c in again.extended] == [case.id]
    assert fraud_db.scalar(select(func.count()).select_from(FraudCase)) == 1
    evidence = set(
        fraud_db.scalars(
            select(FraudEvidence.redemption_id).where(FraudEvidence.case_id == case.id)
        )
    )
    assert set(first + second) <= evidence  # and any use of the store amid the burst
    history = fraud_db.scalars(
        select(TransitionRecord.event)
        .where(TransitionRecord.machine == "fraud_case", TransitionRecord.entity_id == case.id)
        .order_by(TransitionRecord.id)
    ).all()
    assert history == ["flag", "evidence"]


def test_a_closed_case_is_not_raised_again_for_what_it_held(fraud_db, fraud_campaign):
    _engine, generated = fraud_campaign
    target = store(generated, hours="8:00〜21:00", skip=2)
    people = residents(generated, 24, skip=1300)
    plant(fraud_db, target[0], [(p, at(2, 12, i / 3)) for i, p in enumerate(people[:12])])
    case = scan.run(fraud_db, FixedClock(NOW), SETTINGS, only=BURST).opened[0]
    clock = FixedClock(NOW)
    cases.apply(fraud_db, clock, SETTINGS, Viewer("staff:sec1", "secretariat"), case, "review")
    cases.apply(fraud_db, clock, SETTINGS, Viewer("staff:city1", "city"), case, "clear", "常連客")
    assert case.state == "cleared"
    assert scan.run(fraud_db, FixedClock(NOW), SETTINGS, only=BURST).opened == []
    plant(fraud_db, target[0], [(p, at(6, 12, i / 3)) for i, p in enumerate(people[12:])])
    reopened = scan.run(fraud_db, FixedClock(NOW), SETTINGS, only=BURST).opened
    assert [(c.rule, c.store_id) for c in reopened] == [("burst", target[0])]
    assert reopened[0].id != case.id


def test_thresholds_are_settings(fraud_db, fraud_campaign):
    _engine, generated = fraud_campaign
    target = store(generated, hours="8:00〜21:00", skip=3)
    people = residents(generated, 8, skip=1400)
    plant(fraud_db, target[0], [(p, at(2, 16, i / 2)) for i, p in enumerate(people)])
    assert find(fraud_db, "burst") == []  # 8 uses: under the default of 10
    stricter = parse({"kariya.session_secret": "x", "kariya.fraud.burst_uses": "8"})
    assert subjects(find(fraud_db, "burst", stricter)) == {("store", target[0])}


def test_times_are_read_in_the_campaign_zone(fraud_db, fraud_campaign):
    """A use at 23:30 JST is 14:30 UTC: the off-hours rule reads Japan time."""
    _engine, generated = fraud_campaign
    target = store(generated, hours="10:00〜19:00", skip=1)
    people = residents(generated, 3, skip=1500)
    daytime_utc = [
        (p, dt.datetime(2024, 1, 30, 14, 30, tzinfo=dt.UTC) + dt.timedelta(days=i))
        for i, p in enumerate(people)
    ]
    plant(fraud_db, target[0], daytime_utc)
    assert subjects(find(fraud_db, "off_hours")) == {("store", target[0])}
    assert daytime_utc[0][1].astimezone(JST).hour == 23


def test_a_case_of_a_rounds_takings_grows_quietly_with_its_uses(fraud_db, fraud_campaign):
    """The takings of an open case's round keep coming: they join its evidence and figures, and
    its history says only what was found (not a line per scan)."""
    _engine, generated = fraud_campaign
    target = store(generated, category="飲食", hours="10:00〜20:00", skip=1)
    people = residents(generated, 360, skip=1600)
    moments = [at(i % 5, 11 + (i // 5) % 8, (i * 7) % 50) for i in range(len(people))]
    plant(fraud_db, target[0], list(zip(people[:350], moments[:350], strict=True)), coupons=2)
    only = ["takings_norm"]
    case = scan.run(fraud_db, FixedClock(NOW), SETTINGS, only=only).opened[0]
    before = case.figures
    later = plant(fraud_db, target[0], [(p, at(5, 12, i)) for i, p in enumerate(people[350:])], 2)
    again = scan.run(fraud_db, FixedClock(NOW), SETTINGS, only=only)
    assert again.opened == [] and [c.id for c in again.extended] == [case.id]
    assert case.figures != before
    evidence = set(
        fraud_db.scalars(
            select(FraudEvidence.redemption_id).where(FraudEvidence.case_id == case.id)
        )
    )
    assert set(later) <= evidence
    history = fraud_db.scalars(
        select(TransitionRecord.event).where(
            TransitionRecord.machine == "fraud_case", TransitionRecord.entity_id == case.id
        )
    ).all()
    assert history == ["flag"]
