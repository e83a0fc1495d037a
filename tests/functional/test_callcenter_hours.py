"""Q-2 through the public surface: GET /api/v1/callcenter/hours (DESIGN 5.1), the residents'
footer and help page, and the inquiries' due times and automatic closing, all counting business
time across a weekend, a public holiday and 29 December - 3 January."""

import datetime as dt

import pytest
from sqlalchemy import select

from kariya import settings as kariya_settings
from kariya.callcenter import reminders
from kariya.clock import FixedClock
from kariya.models import Inquiry
from tests.functional.callcenter_support import event, new_inquiry, staff_app
from tests.helpers import login_resident


@pytest.mark.parametrize(
    "at,expected",
    [
        # A Monday morning: open until 17:00.
        (
            "2024-01-15T10:00:00+09:00",
            {"open": True, "opens_at": None, "closes_at": "2024-01-15T17:00:00+09:00"},
        ),
        # Friday evening: next Monday.
        (
            "2024-01-12T18:00:00+09:00",
            {"open": False, "opens_at": "2024-01-15T09:00:00+09:00", "closes_at": None},
        ),
        # Saturday before the Monday holiday (成人の日, 8 January): Tuesday.
        (
            "2024-01-06T10:00:00+09:00",
            {"open": False, "opens_at": "2024-01-09T09:00:00+09:00", "closes_at": None},
        ),
        # The year end, a Friday in the closure: 4 January.
        (
            "2023-12-29T10:00:00+09:00",
            {"open": False, "opens_at": "2024-01-04T09:00:00+09:00", "closes_at": None},
        ),
        # UTC in, Japan time out: 2024-01-15T00:30Z is 9:30 in Kariya.
        (
            "2024-01-15T00:30:00+00:00",
            {"open": True, "opens_at": None, "closes_at": "2024-01-15T17:00:00+09:00"},
        ),
    ],
)
def test_hours_at_an_instant(testapp, at, expected):
    assert testapp.get("/api/v1/callcenter/hours", {"at": at}).json == expected


def test_hours_need_no_login_read_a_plus_sent_as_a_space_and_default_to_now(testapp, set_now):
    set_now("2024-01-13T12:00:00+09:00")  # a Saturday
    assert testapp.get("/api/v1/callcenter/hours").json["opens_at"] == "2024-01-15T09:00:00+09:00"
    spaced = testapp.get("/api/v1/callcenter/hours?at=2024-01-15T10:00:00 09:00").json
    assert spaced["open"] is True
    bad = testapp.get("/api/v1/callcenter/hours", {"at": "tomorrow"}, status=422)
    assert bad.json["error"] == "INVALID"


def test_the_residents_footer_and_help_page_say_whether_it_is_open(testapp, set_now):
    set_now("2024-01-15T10:00:00+09:00")
    login_resident(testapp)
    help_page = testapp.get("/help")
    assert "ただいま受付中です(本日17:00まで)" in help_page.text
    assert 'id="callcenter-now"' in help_page.text
    set_now("2023-12-28T17:05:00+09:00")
    page = testapp.get("/help")
    assert "ただいま受付時間外です。次の受付は1月4日(木) 9:00からです" in page.text
    assert "平日 9:00〜17:00" not in page.text.split('id="callcenter-now"')[1]


@pytest.mark.parametrize(
    "received,due",
    [
        # 16 business hours: Friday 16:00 -> 1 h Friday, 8 h Monday, 7 h Tuesday.
        ("2024-01-12T16:00:00+09:00", "2024-01-16T16:00:00+09:00"),
        # Across the Monday holiday of 8 January.
        ("2024-01-05T16:00:00+09:00", "2024-01-10T16:00:00+09:00"),
        # Across the year end: 28 December 16:00 -> 1 h, 4 January 8 h, 5 January 7 h.
        ("2023-12-28T16:00:00+09:00", "2024-01-05T16:00:00+09:00"),
        # Logged on a Saturday (a mail read on Monday): from Monday 9:00.
        ("2024-01-13T11:00:00+09:00", "2024-01-16T17:00:00+09:00"),
    ],
)
def test_due_times_count_business_hours(testapp, db, set_now, received, due):
    set_now(received)
    agent = staff_app(testapp, db, "agent")
    created = new_inquiry(testapp, agent, channel="mail")
    assert created["received_at"] == received and created["due_at"] == due


def test_a_resolved_inquiry_closes_by_itself_after_n_business_days(testapp, db, set_now):
    """5 business days by default: resolved on Thursday 28 December at 15:00, it closes on
    Thursday 11 January at 15:00 (29 December - 3 January, the weekend and 8 January do not
    count: 2 h on the 28th, then 8 h on the 4th, 5th, 9th and 10th, 6 h on the 11th)."""
    set_now("2023-12-28T15:00:00+09:00")
    agent = staff_app(testapp, db, "agent")
    i = new_inquiry(testapp, agent)["id"]
    event(testapp, agent, i, "take")
    event(testapp, agent, i, "resolve", "案内した")
    settings = kariya_settings.parse({})
    for moment, state in [
        ("2024-01-11T14:59:59+09:00", "resolved"),
        ("2024-01-11T15:00:00+09:00", "closed"),
    ]:
        clock = FixedClock(dt.datetime.fromisoformat(moment))
        reminders.run_due(db, clock, settings)
        db.commit()
        db.expire_all()
        assert db.scalar(select(Inquiry.state).where(Inquiry.id == i)) == state
    closing = testapp.get(f"/api/v1/staff/inquiries/{i}").json["events"][-1]
    assert closing["event"] == "close" and closing["actor"] == "system:callcenter"
    assert closing["at"] == "2024-01-11T15:00:00+09:00"
