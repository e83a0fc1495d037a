"""The call centre's business calendar (Q-2): open 9:00-17:00 on weekdays; closed on Saturdays,
Sundays, public holidays (jpholiday) and 29 December to 3 January; business time counts only
the open hours."""

import datetime as dt

import pytest
from pyramid.exceptions import ConfigurationError

from kariya import settings as kariya_settings
from kariya.callcenter.calendar import BusinessCalendar

JST = dt.timezone(dt.timedelta(hours=9))
CAL = BusinessCalendar()
H = dt.timedelta(hours=1)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=JST)


@pytest.mark.parametrize(
    "day,why",
    [
        ("2024-01-13", "休業日"),  # Saturday
        ("2024-01-14", "休業日"),  # Sunday
        ("2024-01-08", "成人の日"),  # a Monday holiday
        ("2024-02-12", "建国記念の日 振替休日"),  # a substitute holiday
        ("2024-02-23", "天皇誕生日"),  # a Friday holiday
        ("2023-12-29", "年末年始"),  # Friday, but the year-end closure
        ("2024-01-01", "年末年始"),
        ("2024-01-03", "年末年始"),
    ],
)
def test_closed_days(day, why):
    assert CAL.closed_reason(dt.date.fromisoformat(day)) == why


@pytest.mark.parametrize("day", ["2023-12-28", "2024-01-04", "2024-01-09", "2024-01-15"])
def test_open_days(day):
    assert CAL.is_open_day(dt.date.fromisoformat(day))


def test_open_hours_are_half_open():
    assert not CAL.is_open(at("2024-01-15T08:59:59"))
    assert CAL.is_open(at("2024-01-15T09:00:00"))
    assert CAL.is_open(at("2024-01-15T16:59:59"))
    assert not CAL.is_open(at("2024-01-15T17:00:00"))


def test_status_says_when_it_opens_next():
    assert CAL.status(at("2024-01-15T10:00")) == {
        "open": True,
        "opens_at": None,
        "closes_at": at("2024-01-15T17:00"),
    }
    # Friday evening -> Monday; before a Monday holiday -> Tuesday; the year end -> 4 January.
    assert CAL.status(at("2024-01-12T17:30"))["opens_at"] == at("2024-01-15T09:00")
    assert CAL.status(at("2024-01-05T18:00"))["opens_at"] == at("2024-01-09T09:00")
    assert CAL.status(at("2023-12-28T17:00")) == {
        "open": False,
        "opens_at": at("2024-01-04T09:00"),
        "closes_at": None,
    }
    assert CAL.status(at("2024-01-15T07:00"))["opens_at"] == at("2024-01-15T09:00")


def test_adding_business_time_across_a_weekend():
    assert CAL.add(at("2024-01-12T16:00"), 2 * H) == at("2024-01-15T10:00")
    # 16 business hours from Friday 16:00: 1 h Friday, 8 h Monday, 7 h Tuesday.
    assert CAL.add(at("2024-01-12T16:00"), 16 * H) == at("2024-01-16T16:00")
    # Received on Saturday: the clock starts on Monday at 9:00.
    assert CAL.add(at("2024-01-13T11:00"), 1 * H) == at("2024-01-15T10:00")


def test_adding_business_time_across_a_public_holiday():
    # Friday 5 January 16:00 + 2 h: the weekend and Monday 8 January (成人の日) do not count.
    assert CAL.add(at("2024-01-05T16:00"), 2 * H) == at("2024-01-09T10:00")
    # The three-day weekend of 10-12 February (12th a substitute holiday).
    assert CAL.add(at("2024-02-09T15:00"), 3 * H) == at("2024-02-13T10:00")


def test_adding_business_time_across_the_year_end():
    # Thursday 28 December 16:30 + 1 h: 29 December to 3 January are closed.
    assert CAL.add(at("2023-12-28T16:30"), 1 * H) == at("2024-01-04T09:30")
    assert CAL.subtract(at("2024-01-04T09:30"), 1 * H) == at("2023-12-28T16:30")
    assert CAL.between(at("2023-12-28T16:00"), at("2024-01-04T10:00")) == 2 * H


def test_an_exact_fit_ends_at_the_close_and_zero_starts_at_the_next_opening():
    assert CAL.add(at("2024-01-15T09:00"), 8 * H) == at("2024-01-15T17:00")
    assert CAL.add(at("2024-01-13T12:00"), dt.timedelta(0)) == at("2024-01-15T09:00")


def test_between_and_add_agree():
    start = at("2023-12-27T13:15")
    for hours in (0.5, 3, 8, 11, 24, 40):
        end = CAL.add(start, dt.timedelta(hours=hours))
        assert CAL.between(start, end) == dt.timedelta(hours=hours)
        assert CAL.subtract(end, dt.timedelta(hours=hours)) == start


def test_business_days_are_days_of_open_hours():
    # Resolved Friday 9 February 15:00; 2 business days: Tuesday 13th (12th a holiday), Wednesday.
    assert CAL.add_days(at("2024-02-09T15:00"), 2) == at("2024-02-14T15:00")


def test_the_calendar_comes_from_the_settings():
    settings = kariya_settings.parse(
        {
            "kariya.callcenter.opens": "10:00",
            "kariya.callcenter.closes": "18:30",
            "kariya.callcenter.open_weekdays": "1,2,3,4,5,6",
            "kariya.callcenter.closed_from": "12-30",
            "kariya.callcenter.closed_until": "01-02",
        }
    )
    cal = BusinessCalendar.of(settings)
    assert cal.is_open(at("2024-01-13T18:00"))  # Saturdays too
    assert cal.day_length == dt.timedelta(hours=8, minutes=30)
    assert cal.is_open_day(dt.date(2023, 12, 29)) and not cal.is_open_day(dt.date(2024, 1, 2))


@pytest.mark.parametrize(
    "key,value",
    [
        ("opens", "9"),
        ("closes", "25:00"),
        ("closed_from", "13-01"),
        ("open_weekdays", "0,8"),
        ("due_business_hours", "0"),
    ],
)
def test_a_calendar_that_cannot_be_read_refuses_to_start(key, value):
    merged = {"kariya.session_secret": "x" * 40, f"kariya.callcenter.{key}": value}
    with pytest.raises(ConfigurationError, match="kariya.callcenter"):
        kariya_settings.load(merged, environ={})
    with pytest.raises(ConfigurationError, match="before"):
        kariya_settings.load(
            {
                "kariya.session_secret": "x" * 40,
                "kariya.callcenter.opens": "18:00",
                "kariya.callcenter.closes": "09:00",
            },
            environ={},
        )
