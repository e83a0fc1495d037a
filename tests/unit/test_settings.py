"""production.ini refuses development-only settings; the environment overrides the ini."""

import configparser
import dataclasses
from pathlib import Path

import pytest
from pyramid.exceptions import ConfigurationError

from kariya import settings as kariya_settings

ROOT = Path(__file__).resolve().parents[2]
GOOD_SECRET = "k3Jd9sPq0vXz7LmN2bR5tY8wQ1eA4cF6"
GOOD_KEY = "Wq8zR2mT5vB9xN1cL4kJ7hG3fD6sA0pE"  # kariya.privacy.withdrawal_key


def production(**overrides):
    """production.ini's values, with the withdrawal key an operator sets (the tests of that
    key override it)."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "production.ini")
    values = dict(parser["app:main"])
    values["kariya.privacy.withdrawal_key"] = GOOD_KEY
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
    assert kariya_settings.settings_of(merged).privacy.withdrawal_key == GOOD_KEY
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


# --- the typed settings ---------------------------------------------------------------------


def test_typed_defaults_are_the_ini_defaults():
    """Every setting of ours has its default in one place: the Settings fields, which also give
    the ini text the libraries and the untyped readers see."""
    typed = kariya_settings.parse({})
    assert typed.smtp.port == 25 and typed.smtp.starttls is False
    assert typed.login.window_minutes == 15
    assert typed.settlement.cutoffs == (15,)
    assert typed.adjustments.max_amount == 1_000_000
    assert typed.line.timeout_seconds == 10.0
    assert typed.mail_sink.port == 0
    assert typed.mail_sink.dir == ROOT / "var" / "mail"
    assert typed.line.redirect_uri == "http://localhost:6543/login/line/callback"
    assert kariya_settings.DEFAULTS["kariya.smtp.port"] == "25"
    assert kariya_settings.DEFAULTS["kariya.smtp.from"] == typed.smtp.from_
    assert kariya_settings.DEFAULTS["kariya.settlement.cutoffs"] == "15"
    assert kariya_settings.DEFAULTS["tm.manager_hook"] == "pyramid_tm.explicit_manager"
    # The bare defaults differ from an empty ini only by the derived LINE callback.
    assert dataclasses.replace(kariya_settings.Settings(), line=typed.line) == typed


def test_ini_text_is_read_by_the_fields_type():
    typed = kariya_settings.parse(
        {
            "kariya.smtp.port": "2525",
            "kariya.smtp.starttls": "true",
            "kariya.settlement.cutoffs": "10, 20",
            "kariya.acquisition.sold_out_memo_seconds": "0.5",
            "kariya.mail_sink.dir": "/tmp/mail",
            "kariya.line.timeout_seconds": "",  # empty: the default
        }
    )
    assert typed.smtp.port == 2525 and typed.smtp.starttls is True
    assert typed.settlement.cutoffs == (10, 20)
    assert typed.acquisition.sold_out_memo_seconds == 0.5
    assert typed.mail_sink.dir == Path("/tmp/mail")
    assert typed.line.timeout_seconds == 10.0


def test_environment_overrides_reach_the_typed_settings():
    merged = kariya_settings.load(
        {"kariya.session_secret": "x"},
        environ={"KARIYA_SMTP_PORT": "2526", "KARIYA_CELERY_EAGER": "true", "KARIYA_CLOCK": ""},
    )
    typed = kariya_settings.settings_of(merged)
    assert typed.smtp.port == 2526
    assert typed.celery.always_eager is True
    assert typed.clock == "system"  # an empty variable overrides nothing


@pytest.mark.parametrize(
    "key,value,message",
    [
        (
            "kariya.smtp.port",
            "twenty-five",
            "kariya.smtp.port must be an integer, not 'twenty-five'",
        ),
        ("kariya.login.window_minutes", "15m", "kariya.login.window_minutes must be an integer"),
        ("kariya.settlement.cutoffs", "15;30", "kariya.settlement.cutoffs must be integers"),
        ("kariya.line.timeout_seconds", "ten", "kariya.line.timeout_seconds must be a number"),
        ("kariya.session_secure", "yes please", "kariya.session_secure must be true or false"),
        ("kariya.privacy.access_log_days", "-1", "kariya.privacy.access_log_days must not be"),
    ],
)
def test_a_bad_value_refuses_to_start_with_its_key(key, value, message):
    with pytest.raises(ConfigurationError, match=message):
        kariya_settings.load({"kariya.session_secret": "x", key: value}, environ={})


def test_the_application_keeps_one_typed_settings_object(registry):
    typed = kariya_settings.settings_of(registry)
    assert typed is registry[kariya_settings.REGISTRY_KEY]
    assert kariya_settings.settings_of(typed) is typed
    assert typed.clock_settable and not typed.is_production
    assert typed.raw["sqlalchemy.url"] == registry.settings["sqlalchemy.url"]


@pytest.mark.parametrize(
    "key,problem",
    [
        ("", "shorter than 32"),
        ("a" * 40, "fewer than 12 different characters"),
        ("withdrawal-key-dev-only-change-me-1234567", "development default"),
        (GOOD_SECRET, "it is the session secret"),
    ],
)
def test_production_refuses_a_weak_or_shared_withdrawal_key(key, problem):
    """D-1: the hash of a withdrawn resident's LINE id is only as good as its key: production
    needs a random key of its own, not the session secret (a key known elsewhere would let the
    hashes be tested against known LINE ids)."""
    environ = {"KARIYA_SESSION_SECRET": GOOD_SECRET, **LINE_CHANNEL}
    as_shipped = production(**{"kariya.privacy.withdrawal_key": ""})
    with pytest.raises(ConfigurationError, match=f"withdrawal_key is too weak \\(.*{problem}"):
        kariya_settings.load(as_shipped, environ={**environ, "KARIYA_WITHDRAWAL_KEY": key})


def test_secrets_are_not_in_the_settings_repr():
    typed = kariya_settings.parse(
        {
            "kariya.session_secret": "s3cr3t-session",
            "kariya.smtp.password": "s3cr3t-smtp",
            "kariya.line.channel_secret": "s3cr3t-line",
            "kariya.privacy.withdrawal_key": "s3cr3t-withdrawal",
        }
    )
    assert "s3cr3t" not in repr(typed)
    assert typed.session_secret == "s3cr3t-session"
