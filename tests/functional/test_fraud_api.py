"""The fraud watch's JSON (DESIGN §5.2: GET /api/v1/staff/fraud-cases?state=, POST
/api/v1/staff/fraud-cases/{id}/events), `kariya fraud scan` (§5.3) and the beat's task."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from kariya.models import FraudCase, PayoutHold
from tests.functional.test_fraud_cases import AFTER, staff_app, watched  # noqa: F401 (fixture)
from tests.helpers import ROUND1, load_campaign, make_person, make_store, run_cli, write_cli_ini


def _api(app):
    token = app.get("/api/v1/staff/me").json["csrf_token"]
    return {"X-CSRF-Token": token}


def test_the_list_is_exactly_the_designs_and_filters_by_state(testapp, db, watched):  # noqa: F811
    burst_store, _other = watched
    city = staff_app(testapp, db, "city", "city1")
    body = city.get("/api/v1/staff/fraud-cases").json
    assert body == {
        "cases": [
            {
                "id": 1,
                "rule": "burst",
                "store_code": "S0001",
                "person_ref": None,
                "state": "flagged",
                "opened_at": AFTER.isoformat(),
                "uses": 10,
            }
        ]
    }
    assert city.get("/api/v1/staff/fraud-cases?state=flagged").json["cases"][0]["id"] == 1
    assert city.get("/api/v1/staff/fraud-cases?state=under_review").json == {"cases": []}
    assert len(city.get("/api/v1/staff/fraud-cases?state=open").json["cases"]) == 1
    bad = city.get("/api/v1/staff/fraud-cases?state=closed-ish", status=422).json
    assert bad["error"] == "INVALID" and "flagged" in bad["message"]


def test_events_by_role_and_by_the_machine(testapp, db, watched):  # noqa: F811
    secretariat = staff_app(testapp, db, "secretariat", "sec1")
    city = staff_app(testapp, db, "city", "city1")
    url = "/api/v1/staff/fraud-cases/1/events"
    # The city decides, but only a case under review; the secretariat reviews.
    refused = city.post_json(url, {"event": "confirm", "note": "x"}, headers=_api(city), status=409)
    assert refused.json["error"] == "BAD_TRANSITION"
    refused = city.post_json(url, {"event": "review"}, headers=_api(city), status=403)
    assert refused.json["error"] == "FORBIDDEN"
    refused = secretariat.post_json(url, {"event": "open"}, headers=_api(secretariat), status=422)
    assert refused.json["error"] == "INVALID"
    secretariat.post_json(url, {"event": "review"}, status=403)  # no CSRF token
    moved = secretariat.post_json(
        url, {"event": "review", "note": "確認中"}, headers=_api(secretariat)
    )
    assert moved.json == {"id": 1, "state": "under_review"}
    assert db.scalar(select(func.count()).select_from(PayoutHold)) == 1
    refused = secretariat.post_json(url, {"event": "clear", "note": "x"}, headers=_api(secretariat), status=403)  # fmt: skip
    assert refused.json["error"] == "FORBIDDEN"
    refused = city.post_json(url, {"event": "clear"}, headers=_api(city), status=422)
    assert "判断の理由" in refused.json["message"]
    moved = city.post_json(url, {"event": "clear", "note": "問題なし"}, headers=_api(city))
    assert moved.json == {"id": 1, "state": "cleared"}
    again = city.post_json(
        url, {"event": "clear", "note": "二度目"}, headers=_api(city), status=409
    )
    assert again.json["error"] == "BAD_TRANSITION"
    city.post_json("/api/v1/staff/fraud-cases/99/events", {"event": "clear"}, headers=_api(city), status=404)  # fmt: skip


def test_one_case_with_its_evidence_and_history(testapp, db, watched):  # noqa: F811
    secretariat = staff_app(testapp, db, "secretariat", "sec1")
    secretariat.post_json(
        "/api/v1/staff/fraud-cases/1/events", {"event": "review"}, headers=_api(secretariat)
    )
    body = secretariat.get("/api/v1/staff/fraud-cases/1").json
    assert (body["rule"], body["state"], body["store_code"]) == ("burst", "under_review", "S0001")
    assert len(body["uses"]) == 10 and {u["amount"] for u in body["uses"]} == {1_000}
    assert all(len(u["person_ref"]) == 12 for u in body["uses"])  # refs, never a LINE id
    assert [e["event"] for e in body["events"]] == ["flag", "review"]
    assert body["figures"]["max_uses"] == 10 and "5分間" in body["summary"]
    secretariat.get("/api/v1/staff/fraud-cases/99", status=404)


def _burst(db, code: str) -> None:
    """Ten residents using a coupon each at one store within four minutes of round 1."""
    from kariya.clock import FixedClock
    from kariya.coupons import acquisition, ticker
    from kariya.redemptions import uses

    load_campaign(db, total=240_000, rounds=6)
    store = make_store(db, code, "夜の店")
    ticker.run_due(db, FixedClock(ROUND1.replace(hour=11)), actor="test")
    for n in range(10):
        moment = FixedClock(ROUND1.replace(hour=11) + dt.timedelta(seconds=20 * n))
        person = make_person(db, n)
        acquisition.acquire(db, moment, person.id)
        uses.redeem(db, moment, person.id, store.qr_token, 1, 1200)
        db.commit()


def test_kariya_fraud_scan_prints_the_cases_opened(db, set_now, tmp_path):
    _burst(db, "S0007")
    set_now(ROUND1 + dt.timedelta(days=2))
    ini = write_cli_ini(tmp_path)
    done = run_cli(ini, "fraud", "scan")
    assert done.returncode == 0, done.stderr
    assert "1 case(s) opened" in done.stdout
    assert "No.1 store S0007 burst: 5分間に最大10件の利用" in done.stdout
    assert db.scalar(select(func.count()).select_from(FraudCase)) == 1


def test_the_beat_runs_the_same_scan(db, registry, set_now):
    from tasks import configure
    from tasks import fraud as fraud_tasks

    configure(registry)
    schedule = registry["tasks.beat_schedule"]
    assert schedule["fraud_scan"] == {"task": "kariya.fraud.scan", "schedule": 600.0}
    _burst(db, "S0008")
    set_now(ROUND1 + dt.timedelta(days=2))
    done = fraud_tasks.scan.apply().get()
    assert done["opened"] == [1] and done["skipped"] == ""
    assert fraud_tasks.scan.apply().get()["opened"] == []  # a doubled beat: nothing twice
    assert db.scalar(select(FraudCase.rule)) == "burst"
