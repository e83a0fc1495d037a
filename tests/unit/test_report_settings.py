"""The city's view is configured in the typed settings (kariya.reports.*): the contacts told of
each status report (C-3) and how often the dashboard's figures are refreshed (C-1)."""

import pytest
from pyramid.exceptions import ConfigurationError

from kariya.settings import settings_of


def test_the_city_contacts_are_a_list_and_the_refresh_a_minute_by_default():
    default = settings_of({}).reports
    assert default.city_contacts == () and default.dashboard_refresh_seconds == 60.0
    given = settings_of(
        {"kariya.reports.city_contacts": "kikaku@city.example.jp,\n zaisei@city.example.jp ,"}
    ).reports
    assert given.city_contacts == ("kikaku@city.example.jp", "zaisei@city.example.jp")


def test_a_bad_refresh_is_refused():
    with pytest.raises(ConfigurationError, match="dashboard_refresh_seconds"):
        settings_of({"kariya.reports.dashboard_refresh_seconds": "often"})
