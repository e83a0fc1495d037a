"""Settlement periods (F-3): at least twice a month, in JST, cadence from configuration."""

import datetime as dt

from kariya.payouts.settlement import JST, period_of, periods_between


def at(y, m, d, h=0, minute=0):
    return dt.datetime(y, m, d, h, minute, tzinfo=JST)


def test_default_halves_of_the_month_in_jst():
    assert period_of(at(2024, 1, 15, 23, 59)).key == "20240101-20240115"
    assert period_of(at(2024, 1, 16, 0, 0)).key == "20240116-20240131"
    assert period_of(at(2024, 2, 29, 12)).key == "20240216-20240229"  # leap year
    # 2024-01-15 15:30 UTC is already the 16th in Japan.
    assert period_of(dt.datetime(2024, 1, 15, 15, 30, tzinfo=dt.UTC)).key == "20240116-20240131"
    assert period_of(at(2024, 1, 16)).label == "2024年1月16日〜1月31日"


def test_other_cadences_come_from_configuration():
    assert [p.key for p in periods_between(at(2024, 1, 1), at(2024, 1, 31), cutoffs=[10, 20])] == [
        "20240101-20240110",
        "20240111-20240120",
        "20240121-20240131",
    ]


def test_the_programme_window_has_at_least_two_periods_a_month():
    periods = periods_between(at(2024, 1, 15), at(2024, 2, 25))
    assert [p.key for p in periods] == [
        "20240101-20240115",
        "20240116-20240131",
        "20240201-20240215",
        "20240216-20240229",
    ]
    assert all(a.ends == b.starts for a, b in zip(periods, periods[1:], strict=False))
