"""The call centre's staff JSON (DESIGN.md 5.2): inquiries through every transition and refusal
of the inquiry machine (Q-1), due times in business hours (Q-2), and the residents' look-ups,
which need an open inquiry as their reason and are each written to the access log (D-1)."""

import threading

import pytest
import webtest
from sqlalchemy import select

from kariya.models import AccessRecord, Inquiry, InquiryEvent, TransitionRecord
from kariya.residents import refs
from tests.functional.callcenter_support import MONDAY_10, event, new_inquiry, staff_app, world
from tests.helpers import login_staff, make_store, make_user


@pytest.fixture
def agent(testapp, db, set_now):
    set_now(MONDAY_10)
    return staff_app(testapp, db, "agent")


def other_app(app):
    return webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.2"})


def records(db, action=None):
    db.expire_all()
    query = select(AccessRecord).order_by(AccessRecord.id)
    if action:
        query = query.where(AccessRecord.action == action)
    return list(db.scalars(query))


# -- who may call ------------------------------------------------------------------------------


def test_staff_me_gives_the_role_and_the_csrf_token(testapp, db):
    testapp.get("/api/v1/staff/me", status=401)
    headers = staff_app(testapp, db, "agent", "agent1")
    me = testapp.get("/api/v1/staff/me").json
    assert me["username"] == "agent1" and me["role"] == "agent" and me["store_code"] is None
    assert me["csrf_token"] == headers["X-CSRF-Token"]


def test_inquiries_need_a_staff_session_and_the_right_role(testapp, db, app):
    testapp.get("/api/v1/staff/inquiries", status=401)
    body = {"caller_type": "resident", "channel": "phone", "category": "use", "subject": "x"}
    make_store(db, "S0009")
    make_user(db, "store", "shop", store_code="S0009")
    store = other_app(app)
    login_staff(store, "shop")
    assert store.get("/api/v1/staff/me").json["store_code"] == "S0009"
    store.get("/api/v1/staff/inquiries", status=403)
    city = other_app(app)
    headers = staff_app(city, db, "city")
    refused = city.post_json("/api/v1/staff/inquiries", body, headers=headers, status=403)
    assert refused.json["error"] == "FORBIDDEN"
    city.get("/api/v1/staff/residents?q=x&inquiry=1", status=403)


def test_unsafe_calls_need_the_csrf_token(testapp, agent):
    body = {"caller_type": "resident", "channel": "phone", "category": "use", "subject": "x"}
    testapp.post_json("/api/v1/staff/inquiries", body, status=403)


# -- logging a call ----------------------------------------------------------------------------


def test_logging_a_call_about_a_confirmation_code_links_the_use_resident_and_store(
    testapp, db, agent
):
    w = world(db)
    created = new_inquiry(testapp, agent, confirmation_code=w.code.lower())
    assert created["state"] == "new"
    assert created["person_ref"] == w.person.ref
    assert created["store_code"] == "S0001" and created["confirmation_code"] == w.code
    assert created["received_at"] == "2024-01-15T10:00:00+09:00"
    # due 16 business hours later: Monday 10:00 + 7 h, Tuesday 8 h, Wednesday 1 h.
    assert created["due_at"] == "2024-01-17T10:00:00+09:00"
    assert "line_user_id" not in str(created)


def test_a_ref_read_out_with_dashes_or_full_width_digits_is_understood(testapp, db, agent):
    w = world(db, with_use=False)
    spoken = refs.display(w.person.ref).translate(
        str.maketrans("0123456789", "０１２３４５６７８９")
    )
    assert new_inquiry(testapp, agent, person_ref=spoken)["person_ref"] == w.person.ref


@pytest.mark.parametrize(
    "field,value",
    [
        ("caller_type", "alien"),
        ("channel", "fax"),
        ("category", "weather"),
        ("subject", ""),
        ("subject", "x" * 201),
        ("person_ref", "1234-5678-9012"),
        ("store_code", "NOPE"),
        ("confirmation_code", "ZZZZZZ"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(testapp, db, agent, field, value):
    body = {"caller_type": "resident", "channel": "phone", "category": "use", "subject": "件名"}
    body[field] = value
    answer = testapp.post_json("/api/v1/staff/inquiries", body, headers=agent, status=422)
    assert answer.json["error"] == "INVALID" and answer.json["message"]
    assert db.scalar(select(Inquiry.id)) is None


def test_categories_are_the_configured_list_by_code_or_name(testapp, agent):
    for given, code in [
        ("acquisition", "acquisition"),
        ("store registration", "store_registration"),
        ("LINE and login", "line_login"),
        ("lost phone", "lost_phone"),
        ("complaint", "complaint"),
        ("苦情", "complaint"),
    ]:
        assert new_inquiry(testapp, agent, category=given)["category"] == code


# -- every transition --------------------------------------------------------------------------


def test_every_transition_is_recorded_with_who_when_and_the_note(testapp, db, app, agent, set_now):
    w = world(db)
    city = other_app(app)
    city_headers = staff_app(city, db, "city")
    i = new_inquiry(testapp, agent, category="complaint", confirmation_code=w.code)["id"]
    steps = [
        (testapp, agent, "take", "", "open"),
        (testapp, agent, "wait", "折り返しを待つ", "waiting"),
        (testapp, agent, "resume", "お客さまから電話", "open"),
        (testapp, agent, "escalate", "お店で割引券を断られたとの苦情", "escalated"),
        (city, city_headers, "answer", "店舗に確認し、折り返します", "answered"),
        (testapp, agent, "resume", "市の回答を伝えた", "open"),
        (testapp, agent, "resolve", "納得された", "resolved"),
        (testapp, agent, "reopen", "再度のお電話", "open"),
        (testapp, agent, "resolve", "", "resolved"),
        (testapp, agent, "close", "", "closed"),
    ]
    for client, headers, name, note, state in steps:
        assert event(client, headers, i, name, note) == {"id": i, "state": state}
    detail = testapp.get(f"/api/v1/staff/inquiries/{i}").json
    assert [(e["event"], e["from"], e["to"]) for e in detail["events"]] == [
        ("take", "new", "open"),
        ("wait", "open", "waiting"),
        ("resume", "waiting", "open"),
        ("escalate", "open", "escalated"),
        ("answer", "escalated", "answered"),
        ("resume", "answered", "open"),
        ("resolve", "open", "resolved"),
        ("reopen", "resolved", "open"),
        ("resolve", "open", "resolved"),
        ("close", "resolved", "closed"),
    ]
    answer = detail["events"][4]
    assert answer["actor"] == "staff:city" and answer["note"] == "店舗に確認し、折り返します"
    assert detail["events"][0]["actor"] == "staff:agent"
    assert detail["events"][0]["at"] == "2024-01-15T10:00:00+09:00"
    assert detail["answer"] == "店舗に確認し、折り返します"
    assert detail["escalation_summary"] == "お店で割引券を断られたとの苦情"
    # The machine's own record of every transition too (workflows.binding).
    moved = db.scalars(
        select(TransitionRecord.to_state)
        .where(TransitionRecord.machine == "inquiry", TransitionRecord.entity_id == i)
        .order_by(TransitionRecord.id)
    ).all()
    assert moved == [s[4] for s in steps]


@pytest.mark.parametrize(
    "before,name",
    [
        ([], "resolve"),
        ([], "wait"),
        ([], "escalate"),
        (["take"], "take"),
        (["take"], "reopen"),
        (["take"], "close"),
        (["take", "resolve", "close"], "reopen"),
        (["take", "resolve", "close"], "merge"),
    ],
)
def test_what_the_machine_refuses_is_409_bad_transition(testapp, db, agent, before, name):
    i = new_inquiry(testapp, agent)["id"]
    target = new_inquiry(testapp, agent)["id"]
    for step in before:
        event(testapp, agent, i, step, "メモ")
    refused = event(testapp, agent, i, name, "要約", status=409, into=target)
    assert refused["error"] == "BAD_TRANSITION"


def test_escalating_needs_a_summary_and_answering_a_text(testapp, db, app, agent):
    i = new_inquiry(testapp, agent)["id"]
    event(testapp, agent, i, "take")
    assert event(testapp, agent, i, "escalate", "", status=422)["error"] == "INVALID"
    event(testapp, agent, i, "escalate", "要約")
    city = other_app(app)
    headers = staff_app(city, db, "city")
    assert event(city, headers, i, "answer", "  ", status=422)["error"] == "INVALID"


def test_an_agent_cannot_answer_for_the_city_and_the_attempt_is_logged(testapp, db, agent):
    """403, logged (issue 12, 'Bad input'); the inquiry stays escalated."""
    i = new_inquiry(testapp, agent)["id"]
    event(testapp, agent, i, "take")
    event(testapp, agent, i, "escalate", "要約")
    assert event(testapp, agent, i, "answer", "勝手に回答", status=403)["error"] == "FORBIDDEN"
    assert testapp.get(f"/api/v1/staff/inquiries/{i}").json["state"] == "escalated"
    denied = records(db, "denied")
    assert [(r.actor, r.role) for r in denied] == [("staff:agent", "agent")]
    assert f"/api/v1/staff/inquiries/{i}/events" in denied[0].detail


def test_the_city_sees_only_escalated_inquiries_and_only_answers(testapp, db, app, agent):
    quiet = new_inquiry(testapp, agent, subject="問い合わせのみ")["id"]
    loud = new_inquiry(testapp, agent, category="complaint", subject="苦情")["id"]
    event(testapp, agent, loud, "take")
    event(testapp, agent, loud, "escalate", "要約")
    city = other_app(app)
    headers = staff_app(city, db, "city")
    listed = city.get("/api/v1/staff/inquiries").json["inquiries"]
    assert [x["id"] for x in listed] == [loud]
    assert listed[0]["escalated_at"] == "2024-01-15T10:00:00+09:00"
    assert city.get("/api/v1/staff/inquiries?escalated=true").json["inquiries"][0]["id"] == loud
    city.get(f"/api/v1/staff/inquiries/{quiet}", status=404)
    not_escalated = event(city, headers, quiet, "answer", "回答", status=409)
    assert not_escalated["error"] == "BAD_TRANSITION"
    assert event(city, headers, loud, "resolve", "市が解決", status=403)["error"] == "FORBIDDEN"
    everything = testapp.get("/api/v1/staff/inquiries").json["inquiries"]
    assert {x["id"] for x in everything} == {quiet, loud}
    assert [
        x["id"] for x in testapp.get("/api/v1/staff/inquiries?escalated=true").json["inquiries"]
    ] == [loud]
    assert [
        x["id"] for x in testapp.get("/api/v1/staff/inquiries?state=new").json["inquiries"]
    ] == [quiet]
    testapp.get("/api/v1/staff/inquiries?state=nonsense", status=422)


def test_merging_a_duplicate(testapp, db, agent):
    first = new_inquiry(testapp, agent)["id"]
    second = new_inquiry(testapp, agent)["id"]
    assert event(testapp, agent, second, "merge", status=422)["error"] == "INVALID"
    assert event(testapp, agent, second, "merge", into=second, status=422)["error"] == "INVALID"
    assert event(testapp, agent, second, "merge", "同じ件", into=first)["state"] == "merged"
    assert testapp.get(f"/api/v1/staff/inquiries/{second}").json["merged_into"] == first
    notes = [e["note"] for e in testapp.get(f"/api/v1/staff/inquiries/{first}").json["events"]]
    assert f"No.{second} を統合しました。" in notes
    assert event(testapp, agent, second, "take", status=409)["error"] == "BAD_TRANSITION"


def test_unknown_events_are_invalid(testapp, agent):
    i = new_inquiry(testapp, agent)["id"]
    assert event(testapp, agent, i, "approve", status=422)["error"] == "INVALID"
    testapp.get("/api/v1/staff/inquiries/999", status=404)


def test_two_agents_taking_the_same_inquiry_at_once_one_wins(testapp, db, app, agent):
    i = new_inquiry(testapp, agent)["id"]
    second = other_app(app)
    second_headers = staff_app(second, db, "agent", "agent2")
    clients = [(testapp, agent), (second, second_headers)]
    start = threading.Barrier(2)
    statuses = []

    def take(client, headers):
        start.wait()
        statuses.append(event(client, headers, i, "take", status="*"))

    threads = [threading.Thread(target=take, args=c) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(s.get("state", s.get("error")) for s in statuses) == ["BAD_TRANSITION", "open"]
    db.expire_all()
    assert db.scalar(select(Inquiry.assignee)) in ("staff:agent", "staff:agent2")
    takes = db.scalars(select(InquiryEvent.event).where(InquiryEvent.event == "take")).all()
    assert takes == ["take"]


def test_waiting_on_the_caller_pauses_the_due_clock(testapp, db, agent, set_now):
    """Q-2: the due time moves on by the business time spent waiting (a weekend in between
    does not count)."""
    i = new_inquiry(testapp, agent)["id"]  # Monday 10:00, due Wednesday 10:00
    event(testapp, agent, i, "take")
    set_now("2024-01-15T16:00:00+09:00")
    event(testapp, agent, i, "wait", "書類を探してもらう")
    set_now("2024-01-16T11:00:00+09:00")  # waited 1 h on Monday + 2 h on Tuesday
    event(testapp, agent, i, "resume")
    assert testapp.get(f"/api/v1/staff/inquiries/{i}").json["due_at"] == (
        "2024-01-17T13:00:00+09:00"
    )


# -- the residents' look-ups (D-1) --------------------------------------------------------------


def test_a_look_up_needs_an_open_inquiry_as_its_reason(testapp, db, agent):
    w = world(db)
    no_reason = testapp.get(f"/api/v1/staff/residents?q={w.person.ref}", status=422)
    assert no_reason.json["error"] == "REASON_REQUIRED"
    testapp.get(f"/api/v1/staff/residents?q={w.person.ref}&inquiry=999", status=422)
    i = new_inquiry(testapp, agent)["id"]
    for step in ("take", "resolve", "close"):
        event(testapp, agent, i, step)
    closed = testapp.get(f"/api/v1/staff/residents?q={w.person.ref}&inquiry={i}", status=422)
    assert closed.json["error"] == "REASON_REQUIRED"
    detail = testapp.get(f"/api/v1/staff/residents/{w.person.ref}?inquiry={i}", status=422)
    assert detail.json["error"] == "REASON_REQUIRED"
    testapp.get(f"/api/v1/staff/residents/{w.person.ref}", status=422)
    assert records(db, "resident.search") == records(db, "resident.view") == []


def test_residents_are_found_by_ref_code_or_display_name_and_each_look_up_is_recorded(
    testapp, db, agent
):
    w = world(db)
    i = new_inquiry(testapp, agent)["id"]
    dashed = refs.display(w.person.ref)
    for q in (dashed, w.code.lower(), "市民1"):
        found = testapp.get("/api/v1/staff/residents", {"q": q, "inquiry": i}).json
        assert found == {"residents": [{"person_ref": w.person.ref, "display_name": "市民1"}]}
    assert testapp.get("/api/v1/staff/residents", {"q": "だれもいない", "inquiry": i}).json == {
        "residents": []
    }
    logged = records(db, "resident.search")
    assert [(r.actor, r.role, r.subject, r.inquiry_id) for r in logged] == [
        ("staff:agent", "agent", w.person.ref, i)
    ] * 3 + [("staff:agent", "agent", "", i)]


def test_a_residents_record_with_rounds_coupons_and_uses(testapp, db, agent):
    w = world(db)
    i = new_inquiry(testapp, agent)["id"]
    body = testapp.get(f"/api/v1/staff/residents/{w.person.ref}", {"inquiry": i}).json
    assert body == {
        "person_ref": w.person.ref,
        "display_name": "市民1",
        "profile": {"age_band": "70s", "area": "kariya"},
        "rounds": [
            {
                "round": 1,
                "acquired_at": "2024-01-15T10:00:00+09:00",
                "coupons": {"issued": 2, "used": 2, "expired": 0},
                "uses": [
                    {
                        "confirmation_code": w.code,
                        "store_code": "S0001",
                        "coupons": 2,
                        "amount": 1000,
                        "used_at": "2024-01-15T12:30:00+09:00",
                        "voided_at": None,
                    }
                ],
            }
        ],
    }
    (view,) = records(db, "resident.view")
    assert (view.subject, view.inquiry_id, view.actor, view.role) == (
        w.person.ref,
        i,
        "staff:agent",
        "agent",
    )
    testapp.get(f"/api/v1/staff/residents/{'1' * 12}", {"inquiry": i}, status=404)


def test_the_access_log_is_for_the_city_and_the_secretariat(testapp, db, app, agent):
    w = world(db)
    i = new_inquiry(testapp, agent)["id"]
    testapp.get(f"/api/v1/staff/residents/{w.person.ref}", {"inquiry": i})
    testapp.get("/api/v1/staff/access-log", status=403)
    for role in ("city", "secretariat"):
        client = other_app(app)
        staff_app(client, db, role)
        entries = client.get("/api/v1/staff/access-log").json["entries"]
        assert {
            "at": "2024-01-15T10:00:00+09:00",
            "actor": "staff:agent",
            "role": "agent",
            "action": "resident.view",
            "subject": w.person.ref,
            "inquiry_id": i,
        } in entries
        later = client.get("/api/v1/staff/access-log", {"since": "2024-01-15T10:00:01+09:00"})
        assert later.json["entries"] == []
        plus_as_space = client.get("/api/v1/staff/access-log?since=2024-01-15T10:00:00 09:00")
        assert len(plus_as_space.json["entries"]) >= 1
