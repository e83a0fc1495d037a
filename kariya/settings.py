"""Settings: ini values, overridden by environment variables, checked once at start."""

from __future__ import annotations

import os
from pathlib import Path

from pyramid.exceptions import ConfigurationError
from pyramid.settings import asbool

# Environment variables that override ini keys (12-factor style deployment).
ENV_OVERRIDES = {
    "KARIYA_DATABASE_URL": "sqlalchemy.url",
    "KARIYA_REDIS_URL": "kariya.redis_url",
    "KARIYA_SESSION_SECRET": "kariya.session_secret",
    "KARIYA_PUBLIC_URL": "kariya.public_url",
    "KARIYA_BROKER_URL": "celery.broker_url",
    "KARIYA_CELERY_EAGER": "celery.always_eager",
    "KARIYA_CLOCK": "kariya.clock",
    "KARIYA_LINE_SIMULATOR": "kariya.line.simulator",
    "KARIYA_LINE_CHANNEL_ID": "kariya.line.channel_id",
    "KARIYA_LINE_CHANNEL_SECRET": "kariya.line.channel_secret",
    "KARIYA_SMTP_HOST": "kariya.smtp.host",
    "KARIYA_SMTP_PORT": "kariya.smtp.port",
    "KARIYA_SMTP_USERNAME": "kariya.smtp.username",
    "KARIYA_SMTP_PASSWORD": "kariya.smtp.password",
}

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEFAULTS = {
    "jinja2.directories": str(PROJECT_ROOT / "templates"),
    "jinja2.filters": "yen = views.filters:yen\njst = views.filters:jst\njst_date = views.filters:jst_date\njst_until = views.filters:jst_until\njst_day = views.filters:jst_day",
    "jinja2.globals": "csrf_token = pyramid.csrf:get_csrf_token\nrole_label = views.filters:role_label",
    "kariya.environment": "development",
    "kariya.clock": "system",
    "kariya.line.simulator": "false",
    # LINE Login v2.1 (LINE.md): the Login channel, LINE's endpoints and our registered callback
    # (empty redirect_uri: {public_url}/login/line/callback).
    "kariya.line.channel_id": "",
    "kariya.line.channel_secret": "",
    "kariya.line.authorize_url": "https://access.line.me/oauth2/v2.1/authorize",
    "kariya.line.token_url": "https://api.line.me/oauth2/v2.1/token",
    "kariya.line.friendship_url": "https://api.line.me/friendship/v1/status",
    "kariya.line.redirect_uri": "",
    "kariya.line.timeout_seconds": "10",
    # How residents add the city's official account as a friend (P-1), shown to non-friends.
    "kariya.line.account_name": "刈谷市LINE公式アカウント",
    "kariya.line.add_friend_url": "",
    "kariya.redis_url": "",
    "kariya.session_secure": "false",
    "kariya.public_url": "http://localhost:6543",
    "kariya.callcenter.phone": "0566-00-0000",
    "kariya.callcenter.hours": "平日 9:00〜17:00(土日祝日・12月29日〜1月3日を除く)",
    "kariya.login.max_failures_per_account": "5",
    "kariya.login.max_failures_per_address": "20",
    "kariya.login.window_minutes": "15",
    "kariya.inprocess_beat_seconds": "0",
    "kariya.settlement.cutoffs": "15",
    "kariya.zengin.lead_days": "2",
    "kariya.zengin.separator": "crlf",
    "kariya.zengin.transfer_code": "7",
    "kariya.db_pool_size": "8",
    # The cap on one payout adjustment, in yen (an operator's guard against typos).
    "kariya.adjustments.max_amount": "1000000",
    # Late arrivals after a sell-out are refused from memory for this long (0: off).
    "kariya.acquisition.sold_out_memo_seconds": "1",
    # Mail to stores (S-4). No host: mail waits in the outbox. Development and the tests point
    # this at a local SMTP server (kariya mail-sink, or aiosmtpd in the tests).
    "kariya.smtp.host": "",
    "kariya.smtp.port": "25",
    "kariya.smtp.starttls": "false",
    "kariya.smtp.username": "",
    "kariya.smtp.password": "",
    "kariya.smtp.from": "刈谷市電子割引券事務局 <noreply@example.jp>",
    "kariya.smtp.timeout_seconds": "10",
    "kariya.smtp.max_attempts": "5",
    "celery.broker_url": "memory://",
    "celery.always_eager": "false",
    "retry.attempts": "3",
    "tm.manager_hook": "pyramid_tm.explicit_manager",
    # 4xx and 5xx answers abort the transaction: a refused request writes nothing.
    "tm.commit_veto": "pyramid_tm.default_commit_veto",
    "pyramid.default_locale_name": "ja",
}

DEV_SECRET_MARKERS = ("dev-only", "change-me", "changeme", "secret")

# The LINE simulator's own channel, used where the simulator is on and no channel is configured.
SIMULATOR_CHANNEL_ID = "1234567890"
SIMULATOR_CHANNEL_SECRET = "line-simulator-channel-secret-dev-only"


def load(settings: dict, environ: dict | None = None) -> dict:
    """Return the effective settings: defaults < ini < environment."""
    environ = os.environ if environ is None else environ
    merged = dict(DEFAULTS)
    merged.update({k: v for k, v in settings.items() if v is not None})
    for env_name, key in ENV_OVERRIDES.items():
        if environ.get(env_name):
            merged[key] = environ[env_name]
    if line_simulator(merged) and not merged.get("kariya.line.channel_id"):
        merged["kariya.line.channel_id"] = SIMULATOR_CHANNEL_ID
        merged["kariya.line.channel_secret"] = SIMULATOR_CHANNEL_SECRET
    if not merged.get("kariya.line.redirect_uri"):
        public_url = (merged.get("kariya.public_url") or "").rstrip("/")
        merged["kariya.line.redirect_uri"] = public_url + "/login/line/callback"
    check(merged)
    return merged


def is_production(settings: dict) -> bool:
    return settings.get("kariya.environment") == "production"


def clock_settable(settings: dict) -> bool:
    return settings.get("kariya.clock") == "settable"


def line_simulator(settings: dict) -> bool:
    return asbool(settings.get("kariya.line.simulator"))


def check(settings: dict) -> None:
    """Refuse a configuration that would be unsafe where it is used."""
    if settings.get("kariya.clock") not in ("system", "settable"):
        raise ConfigurationError("kariya.clock must be 'system' or 'settable'")
    secret = settings.get("kariya.session_secret") or ""
    if not is_production(settings):
        if not secret:
            raise ConfigurationError("kariya.session_secret is empty")
        return
    problems = []
    if clock_settable(settings):
        problems.append("kariya.clock = settable is for development only")
    if line_simulator(settings):
        problems.append("kariya.line.simulator = true is for development only")
    if asbool(settings.get("celery.always_eager")):
        problems.append("celery.always_eager = true is for development only")
    if str(settings.get("kariya.mail_sink.port") or "0").strip() not in ("", "0"):
        problems.append(
            "kariya.mail_sink.port must be 0 or empty (the mail sink is for development only)"
        )
    if len(secret) < 32 or any(m in secret.lower() for m in DEV_SECRET_MARKERS):
        problems.append(
            "kariya.session_secret must be a random value of at least 32 characters "
            "(set KARIYA_SESSION_SECRET)"
        )
    if not asbool(settings.get("kariya.session_secure")):
        problems.append("kariya.session_secure must be true (cookies over HTTPS only)")
    if not settings.get("kariya.line.channel_id") or not settings.get("kariya.line.channel_secret"):
        problems.append(
            "kariya.line.channel_id and kariya.line.channel_secret must be set "
            "(set KARIYA_LINE_CHANNEL_ID and KARIYA_LINE_CHANNEL_SECRET)"
        )
    if problems:
        raise ConfigurationError("production.ini refuses to start: " + "; ".join(problems))
