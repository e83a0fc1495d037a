"""production.ini refuses development-only settings; the environment overrides the ini."""

import configparser
from pathlib import Path

import pytest
from pyramid.exceptions import ConfigurationError

from kariya import settings as kariya_settings

ROOT = Path(__file__).resolve().parents[2]
GOOD_SECRET = "k3Jd9sPq0vXz7LmN2bR5tY8wQ1eA4cF6"


def production(**overrides):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "production.ini")
    values = dict(parser["app:main"])
    values.update(overrides)
    return values


def test_production_ini_as_shipped_refuses_without_a_secret():
    with pytest.raises(ConfigurationError, match="session_secret"):
        kariya_settings.load(production(), environ={})


LINE_CHANNEL = {"KARIYA_LINE_CHANNEL_ID": "2000000001", "KARIYA_LINE_CHANNEL_SECRET": "a" * 32}


def test_production_starts_with_a_real_secret_from_the_environment():
    merged = kariya_settings.load(
        production(), environ={"KARIYA_SESSION_SECRET": GOOD_SECRET, **LINE_CHANNEL}
    )
    assert merged["kariya.session_secret"] == GOOD_SECRET
    assert merged["kariya.line.channel_secret"] == "a" * 32
    assert merged["kariya.line.redirect_uri"] == "https://coupon.example.jp/login/line/callback"


def test_production_refuses_to_start_without_the_line_channel_secret():
    """P-1: residents log in through LINE; without the Login channel's secret no ID token can
    be verified, so production must not start."""
    environ = {"KARIYA_SESSION_SECRET": GOOD_SECRET, "KARIYA_LINE_CHANNEL_ID": "2000000001"}
    with pytest.raises(ConfigurationError, match="kariya.line.channel_secret"):
        kariya_settings.load(production(), environ=environ)


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("kariya.clock", "settable", "kariya.clock"),
        ("kariya.line.simulator", "true", "simulator"),
        ("celery.always_eager", "true", "always_eager"),
        ("kariya.session_secret", "dev-only-session-secret-change-me-1234567890", "session_secret"),
        ("kariya.session_secure", "false", "session_secure"),
    ],
)
def test_production_refuses_each_development_only_setting(key, value, message):
    with pytest.raises(ConfigurationError, match=message):
        kariya_settings.load(
            production(**{key: value, "kariya.session_secret": GOOD_SECRET} | {key: value}),
            environ={},
        )


def test_development_ini_is_accepted_and_environment_overrides_it():
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "development.ini")
    values = dict(parser["app:main"])
    merged = kariya_settings.load(
        values, environ={"KARIYA_DATABASE_URL": "postgresql+psycopg://x@h/db"}
    )
    assert merged["sqlalchemy.url"] == "postgresql+psycopg://x@h/db"
    assert merged["kariya.clock"] == "settable"


def test_unknown_clock_kind_is_refused():
    with pytest.raises(ConfigurationError):
        kariya_settings.load({"kariya.clock": "fast", "kariya.session_secret": "x"}, environ={})
