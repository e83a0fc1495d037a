"""The city's dashboard (C-1, F-6; DESIGN §5.2 `GET /api/v1/staff/dashboard`): every figure of a
small campaign computed by hand, with two rounds, a void, expiries, the rollover, a paid and an
approved payout; the figures agree with `kariya ledger check`; the dashboard adds no statement
to the acquisition or redemption paths; a page of 600 stores renders well under a second."""

import datetime as dt
import json
import re
import time

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from kariya.audit import ledger_check
from kariya.clock import FixedClock
from kariya.coupons import GROUP_COMMIT_KEY, acquisition, ticker
from kariya.documents import consent
from kariya.models import Campaign, DashboardSnapshot, PayoutBatch, Redemption, Store
from kariya.payouts import batches, transfers
from kariya.redemptions import uses
from kariya.reports import dashboard, figures
from kariya.reports import models as report_models
from kariya.settings import settings_of
from tests.conftest import BASE_SETTINGS
from tests.helpers import (
    JST,
    ROUND1,
    load_campaign,
    login_resident,
    login_staff,
    make_person,
    make_store,
    make_user,
    run_cli,
    write_cli_ini,
)


def at(day: int, hour: int, minute: int = 0) -> FixedClock:
    return FixedClock(dt.datetime(2024, 1, day, hour, minute, tzinfo=JST))


def bank(store, holder: str) -> None:
    store.bank_code, store.branch_code, store.account_type = "0001", "004", "普通"
    store.account_number, store.account_holder_kana = "0000001", holder


@pytest.fixture
def campaign(db):
    """T = 20,000 yen in two weekly rounds of 10,000 (5 packs each). Stores: S1 (小売) and S2
    (飲食) with bank accounts, S3 (小売) active and never used, S4 not yet active. Residents:
    p1 (70s, kariya), p2 (20s, ogakie), p3 (30s, kariya), p4 without a profile."""
    load_campaign(db, total=20_000, rounds=2)
    s1 = make_store(db, "S1", "かりや青果店")
    s2 = make_store(db, "S2", "喫茶みなと")
    s2.category = "飲食"
    make_store(db, "S3", "使われない店")
    make_store(db, "S4", "審査中の店", active=False)
    bank(s1, "カリヤセイカテン")
    bank(s2, "キツサミナト")
    p1 = make_person(db, 1)
    p2 = make_person(db, 2)
    consent.save_profile(db, at(14, 9), p2, "20s", "ogakie", agreed_terms=1)
    p3 = make_person(db, 3)
    consent.save_profile(db, at(14, 9), p3, "30s", "kariya", agreed_terms=1)
    make_person(db, 4, profile=False)
    db.commit()
    return db.scalar(select(Campaign)), (s1, s2), (p1.id, p2.id, p3.id)


def run_campaign(db, campaign):
    """Round 1 (Jan 15-21): p1 and p2 acquire; p1 uses 2 at S1 and 1 at S2; p2 uses 1 at S1,
    which S1 voids, and 1 at S2 on the 17th. Round 1 closes with 4 coupons unused (2,000) and
    6,000 unissued: R1 = 8,000, so round 2's quota is 18,000. Batch 1 (Jan 1-15) pays S1 1,000
    and S2 500; batch 2 (Jan 16-20) holds S2's 500 and is approved, not yet transferred.
    Round 2 (Jan 22-28): p3 and p1 acquire; p3 uses 2 at S2, p1 uses 1 at S1."""
    _c, (s1, s2), (p1, p2, p3) = campaign
    settings = settings_of({**BASE_SETTINGS, "kariya.settlement.cutoffs": "15,20"})
    ticker.run_due(db, at(15, 0, 1), actor="test")
    for person in (p1, p2):
        acquisition.acquire(db, at(15, 10), person)
    uses.redeem(db, at(15, 10, 5), p1, s1.qr_token, 2, 2500)
    uses.redeem(db, at(15, 10, 10), p1, s2.qr_token, 1, 1200)
    voided = uses.redeem(db, at(15, 11), p2, s1.qr_token, 1, 1000)
    uses.void(
        db,
        at(15, 11, 5),
        store_id=s1.id,
        redemption_id=voided["id"],
        actor="staff:s1",
        reason="誤操作",
    )
    uses.redeem(db, at(17, 12), p2, s2.qr_token, 1, 1500)
    db.commit()

    ticker.run_due(db, at(22, 0, 1), actor="test")  # close and settle round 1, open round 2
    first = batches.build(
        db, at(22, 9), settings, actor="staff:sec", period_end=dt.datetime(2024, 1, 16, tzinfo=JST)
    )
    batches.submit(db, at(22, 9), first, actor="staff:sec")
    batches.approve(db, at(22, 9), first, actor="staff:city")
    transfers.export(db, at(22, 9), first, settings, actor="staff:sec")
    transfers.record_results(
        db,
        at(22, 9),
        first,
        [transfers.ResultLine("S1", 1000, True), transfers.ResultLine("S2", 500, True)],
        actor="staff:sec",
    )
    second = batches.build(
        db, at(22, 9), settings, actor="staff:sec", period_end=dt.datetime(2024, 1, 21, tzinfo=JST)
    )
    batches.submit(db, at(22, 9), second, actor="staff:sec")
    batches.approve(db, at(22, 9), second, actor="staff:city")
    for person in (p3, p1):
        acquisition.acquire(db, at(22, 10), person)
    uses.redeem(db, at(22, 10, 30), p3, s2.qr_token, 2, 2000)
    uses.redeem(db, at(23, 15), p1, s1.qr_token, 1, 1000)
    db.commit()


def test_every_figure_computed_by_hand(db, campaign):
    run_campaign(db, campaign)
    c = campaign[0]
    data = figures.compute(db, c, at(24, 12).now())
    api = figures.api_json(data)
    assert api["as_of"] == "2024-01-24T12:00:00+09:00"
    # T = used 3,500 + outstanding 2,500 (round 2: 8 coupons issued, 3 used) + unissued 14,000.
    assert api["funds"] == {
        "total": 20_000,
        "used": 3_500,
        "outstanding": 2_500,
        "unissued": 14_000,
        "adjusted": 0,
        "returned": 0,
    }
    assert api["rounds"] == [
        {
            "round": 1,
            "state": "settled",
            "quota": 10_000,
            "issued_amount": 4_000,
            "acquisitions": 2,
            "used_amount": 2_000,  # 1,000 + 500 + 500; the voided 500 does not count
            "uses": 3,
            "expired_amount": 2_000,  # p1's last coupon and p2's three
            "rollover": 8_000,  # 2,000 unused + 6,000 never issued
        },
        {
            "round": 2,
            "state": "open",
            "quota": 18_000,
            "issued_amount": 4_000,
            "acquisitions": 2,
            "used_amount": 1_500,
            "uses": 2,
            "expired_amount": 0,
            "rollover": 0,
        },
    ]
    assert api["residents"] == {"registered": 4, "with_profile": 3, "acquired": 3}
    area = {a["area"]: a for a in api["by_area"]}
    assert area["kariya"] == {
        "area": "kariya",
        "residents": 2,
        "acquisitions": 3,
        "used_amount": 3_000,
    }
    assert area["ogakie"] == {
        "area": "ogakie",
        "residents": 1,
        "acquisitions": 1,
        "used_amount": 500,
    }
    assert area[None] == {"area": None, "residents": 1, "acquisitions": 0, "used_amount": 0}
    assert sum(a["residents"] for a in api["by_area"]) == 4
    assert {k for k, a in area.items() if a["residents"]} == {"kariya", "ogakie", None}
    band = {a["age_band"]: a for a in api["by_age_band"]}
    assert band["70s"] == {
        "age_band": "70s",
        "residents": 1,
        "acquisitions": 2,
        "used_amount": 2_000,
    }
    assert band["20s"] == {"age_band": "20s", "residents": 1, "acquisitions": 1, "used_amount": 500}
    assert band["30s"] == {
        "age_band": "30s",
        "residents": 1,
        "acquisitions": 1,
        "used_amount": 1_000,
    }
    assert band[None]["residents"] == 1 and band["40s"]["residents"] == 0
    category = {c["category"]: c for c in api["by_category"]}
    assert category["小売"] == {"category": "小売", "stores": 2, "uses": 2, "used_amount": 1_500}
    assert category["飲食"] == {"category": "飲食", "stores": 1, "uses": 3, "used_amount": 2_000}
    assert sum(c["uses"] for c in api["by_category"]) == 5
    assert api["stores"] == {"active": 3, "used_at_least_once": 2}
    assert api["payouts"] == {"paid": 1_500, "approved": 500, "pending": 1_500}

    # F-6: the city advanced T; 1,500 went to stores; 2,000 is owed to them, 16,500 still in play.
    assert data["coupon_funds"] == {
        "advanced": 20_000,
        "paid_to_stores": 1_500,
        "balance": 18_500,
        "owed_to_stores": 2_000,
        "in_play": 16_500,
        "to_return": 0,
    }
    table = {s["code"]: s for s in data["store_table"]}
    assert (table["S1"]["uses"], table["S1"]["used_amount"], table["S1"]["paid"]) == (
        2,
        1_500,
        1_000,
    )
    assert (table["S2"]["uses"], table["S2"]["used_amount"], table["S2"]["paid"]) == (3, 2_000, 500)
    assert (table["S3"]["uses"], table["S4"]["state"]) == (0, "applied")

    series = data["series"]
    assert series["days"][0] == "2024-01-15" and series["days"][-1] == "2024-01-28"
    assert series["used"][:9] == [1_500, 0, 500, 0, 0, 0, 0, 1_000, 500]
    assert series["uses"][:3] == [2, 0, 1]
    assert series["issued"][0] == 4_000 and series["issued"][7] == 4_000
    assert sum(series["plan"]) == 20_000 and sum(series["plan"][:7]) == 10_000
    assert series["opening"]["1"][10] == 2 and sum(series["opening"]["1"]) == 2
    assert series["opening"]["2"][10] == 2
    assert series["through"] == 10  # Jan 15 .. Jan 24

    # The money agrees with `kariya ledger check`.
    report = ledger_check.check(db, c)
    assert report.ok, report.text()
    f = report.figures
    assert (f["used"], f["outstanding"], f["unissued"], f["adjusted"], f["returned"]) == (
        api["funds"]["used"],
        api["funds"]["outstanding"],
        api["funds"]["unissued"],
        api["funds"]["adjusted"],
        api["funds"]["returned"],
    )
    assert (f["paid"], f["payable"]) == (api["payouts"]["paid"], api["payouts"]["approved"])


def test_after_the_last_round_the_remainder_is_returned(db, campaign):
    run_campaign(db, campaign)
    ticker.run_due(db, at(29, 0, 1), actor="test")  # round 2 closes: 5 coupons expire
    db.commit()
    api = figures.api_json(figures.compute(db, campaign[0], at(29, 1).now()))
    assert api["funds"] == {
        "total": 20_000,
        "used": 3_500,
        "outstanding": 0,
        "unissued": 0,
        "adjusted": 0,
        "returned": 16_500,  # 2,500 unused + 14,000 never issued
    }
    last = api["rounds"][1]
    assert (last["state"], last["expired_amount"], last["rollover"]) == ("settled", 2_500, 16_500)


def test_the_json_gives_the_snapshot_to_the_city_and_the_secretariat(
    db, testapp, campaign, set_now
):
    run_campaign(db, campaign)
    set_now(dt.datetime(2024, 1, 24, 12, tzinfo=JST))
    assert testapp.get("/api/v1/staff/dashboard", status=401).json["error"] == "UNAUTHENTICATED"
    make_user(db, "agent")
    login_staff(testapp, "agent")
    assert testapp.get("/api/v1/staff/dashboard", status=403).json["error"] == "FORBIDDEN"
    for role in ("city", "secretariat"):
        make_user(db, role)
        login_staff(testapp, role)
        body = testapp.get("/api/v1/staff/dashboard").json
        assert body["as_of"] == "2024-01-24T12:00:00+09:00"
        assert body["funds"]["used"] == 3_500 and body["payouts"]["approved"] == 500
        assert set(body) == {
            "as_of",
            "funds",
            "rounds",
            "residents",
            "by_area",
            "by_age_band",
            "by_category",
            "stores",
            "payouts",
            "fraud",  # added by issue 15: the fraud watch's figure per rule
        }
    # The figures are as of the last refresh: a later use shows after the next one.
    _c, (s1, _s2), (_p1, _p2, p3) = campaign
    uses.redeem(
        db, FixedClock(dt.datetime(2024, 1, 24, 12, 0, 30, tzinfo=JST)), p3, s1.qr_token, 1, 1000
    )
    db.commit()
    set_now(dt.datetime(2024, 1, 24, 12, 1, tzinfo=JST))
    assert testapp.get("/api/v1/staff/dashboard").json["funds"]["used"] == 3_500
    dashboard.refresh(db, FixedClock(dt.datetime(2024, 1, 24, 12, 1, tzinfo=JST)))
    db.commit()
    body = testapp.get("/api/v1/staff/dashboard").json
    assert (body["as_of"], body["funds"]["used"]) == ("2024-01-24T12:01:00+09:00", 4_000)
    # Figures older than the beat's minute (and a margin) are refreshed by the reader itself.
    set_now(dt.datetime(2024, 1, 24, 12, 2, 30, tzinfo=JST))
    assert testapp.get("/api/v1/staff/dashboard").json["as_of"] == "2024-01-24T12:01:00+09:00"
    set_now(dt.datetime(2024, 1, 24, 12, 5, tzinfo=JST))
    assert testapp.get("/api/v1/staff/dashboard").json["as_of"] == "2024-01-24T12:05:00+09:00"


def test_the_beat_and_kariya_tick_refresh_the_snapshot(db, registry, campaign, set_now, tmp_path):
    from tasks import configure
    from tasks import reports as report_tasks

    configure(registry)  # the Celery app on this suite's app (other tests make their own)
    set_now(ROUND1.replace(hour=12))
    report_tasks.refresh_dashboard.apply()
    snap = db.scalar(select(DashboardSnapshot))
    assert snap.as_of == ROUND1.replace(hour=12)
    schedule = registry["tasks.beat_schedule"]
    assert schedule["dashboard"]["task"] == "kariya.reports.refresh_dashboard"
    assert schedule["dashboard"]["schedule"] <= 60
    set_now(ROUND1.replace(hour=13))
    tick = run_cli(write_cli_ini(tmp_path), "tick")
    assert tick.returncode == 0, tick.stderr
    assert json.loads(tick.stdout)["dashboard"] == "2024-01-15T13:00:00+09:00"
    db.expire_all()
    assert db.scalar(select(DashboardSnapshot.as_of)) == ROUND1.replace(hour=13)


def _recorded(engine):
    statements = []

    def listen(_conn, _cursor, statement, *_args):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", listen)
    return statements, lambda: sa.event.remove(engine, "before_cursor_execute", listen)


# A table a statement writes, wherever the verb stands (a data-modifying WITH has several);
# not the upsert's DO UPDATE nor the lock's FOR UPDATE.
WRITES = re.compile(r"\b(?:INSERT INTO|(?<!DO )(?<!FOR )UPDATE|DELETE FROM)\s+(\w+)")


def _written_tables(statements) -> set[str]:
    return {table for s in statements for table in WRITES.findall(s)}


def test_the_dashboard_adds_no_statement_to_acquisition_or_redemption(
    db, testapp, registry, set_now
):
    """The rush serialises on any row every transaction updates: the dashboard's figures are
    computed by the beat from the records, and the acquisition and the redemption write only
    their own rows (counted here, statement by statement)."""
    load_campaign(db, total=60_000, rounds=6)
    store = make_store(db, "S0001", "かりや青果店")
    testapp.put_json("/dev/clock", {"now": ROUND1.replace(hour=10).isoformat(), "frozen": True})
    dashboard.refresh(db, at(15, 10))
    db.commit()
    token = login_resident(testapp)
    report_tables = {t.name for t in report_models.Base.metadata.sorted_tables} & {
        "dashboard_snapshot",
        "export_job",
        "export_job_chunk",
        "status_report",
        "erasure_request",
    }
    assert len(report_tables) == 5
    statements, stop = _recorded(registry["db.engine"])
    # The acquisition is written by the group commit's own connection (kariya.coupons).
    batched, stop_batched = _recorded(registry[GROUP_COMMIT_KEY].engine)
    try:
        testapp.post("/api/v1/acquisitions", headers={"X-CSRF-Token": token}, status=201)
        acquire = list(statements) + list(batched)
        statements.clear()
        testapp.post_json(
            "/api/v1/redemptions",
            {"store_token": store.qr_token, "coupons": 1, "bill_amount": 1000},
            headers={"X-CSRF-Token": token},
            status=201,
        )
        redeem = list(statements)
    finally:
        stop()
        stop_batched()
    for path, found in (("acquisition", acquire), ("redemption", redeem)):
        assert not [s for s in found if any(t in s for t in report_tables)], path
    assert _written_tables(acquire) == {
        "acquisition",
        "coupon",
        "ledger_entry",
        "ledger_posting",
        "round",
    }
    assert _written_tables(redeem) == {
        "store_use",
        "redemption",
        "coupon",
        "ledger_entry",
        "ledger_posting",
        "transition_record",
    }
    # The counts, for the record: what a change to these paths must justify.
    print(f"acquisition: {len(acquire)} statements, redemption: {len(redeem)} statements")


def test_a_page_of_600_stores_renders_well_under_a_second(db, testapp, set_now):
    load_campaign(db, total=60_000, rounds=6)
    now = set_now(ROUND1)
    db.execute(
        sa.insert(Store),
        [
            dict(
                code=f"T{i:04d}",
                name=f"刈谷テスト商店{i}",
                kana="カリヤテストショウテン",
                category=("小売", "飲食", "サービス")[i % 3],
                area="kariya",
                state="active",
                created_at=now,
                updated_at=now,
            )
            for i in range(600)
        ],
    )
    db.commit()
    dashboard.refresh(db, FixedClock(now))
    db.commit()
    make_user(db, "city")
    login_staff(testapp, "city")
    testapp.get("/city/dashboard")  # templates compiled once
    timings = []
    for sort in ("code", "used_amount", "name"):
        started = time.perf_counter()
        page = testapp.get(f"/city/dashboard?sort={sort}")
        timings.append(time.perf_counter() - started)
    assert page.text.count('class="store-row"') == 600
    assert "T0599" in page.text and "<svg" in page.text
    print(f"600 stores: {', '.join(f'{t * 1000:.0f} ms' for t in timings)}")
    # Well under a second even on this shared 2-core machine; the median is the page's own cost.
    assert sorted(timings)[1] < 0.5 and max(timings) < 1.0, timings


def test_the_store_link_lists_its_uses_without_residents(db, testapp, campaign):
    run_campaign(db, campaign)
    make_user(db, "city")
    login_staff(testapp, "city")
    page = testapp.get("/city/stores/S1/uses")
    codes = db.scalars(
        select(Redemption.confirmation_code).where(Redemption.store_id == campaign[1][0].id)
    ).all()
    assert all(code in page.text for code in codes) and "取消" in page.text
    assert "U0000" not in page.text
    assert db.scalar(select(PayoutBatch.id).limit(1)) is not None


def test_the_secretariat_sees_the_same_dashboard(db, testapp, campaign, set_now):
    run_campaign(db, campaign)
    set_now(dt.datetime(2024, 1, 24, 12, tzinfo=JST))
    make_user(db, "secretariat")
    login_staff(testapp, "secretariat")
    page = testapp.get("/secretariat/dashboard?sort=used_amount")
    assert page.text.count('class="chart"') >= 5 and "3,500円" in page.text
    assert 'href="http://localhost/secretariat/stores/S2"' in page.text  # its own store page
    assert page.text.index(">S2<") < page.text.index(">S1<")  # 2,000 before 1,500
    csrf = page.html.find("input", attrs={"name": "csrf_token"})["value"]
    testapp.post("/secretariat/dashboard/refresh", {"csrf_token": csrf}, status=302)
    make_user(db, "store", "shop", store_code="S1")
    login_staff(testapp, "shop")
    testapp.get("/secretariat/dashboard", status=403)
    testapp.get("/city/dashboard", status=403)
