"""Settings: ini values, overridden by environment variables, checked once at start.

Every setting of ours is a typed field of `Settings` below, with its default: the attribute path
is the ini key without `kariya.` (`kariya.smtp.port` is `settings.smtp.port`, an int). `load()`
gives the effective ini dict, which Pyramid and the libraries read their own keys from
(sqlalchemy.*, jinja2.*, tm.*, retry.*, pyramid.*); `parse()` turns it into one frozen `Settings`,
which our code reads: `request.kariya_settings` in views, `settings_of(registry)` in tasks and
the CLI.
"""

from __future__ import annotations

import collections
import dataclasses
import ipaddress
import math
import os
import re
import types
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pyramid.exceptions import ConfigurationError
from pyramid.registry import Registry

from kariya import typed_ini
from kariya.rate_limit import RateLimit
from kariya.thresholds import Acquisition, Fraud, Privacy, Till

if TYPE_CHECKING:
    from pyramid.config import Configurator

# Environment variables that override ini keys (12-factor style deployment).
ENV_OVERRIDES = {
    "KARIYA_DATABASE_URL": "sqlalchemy.url",
    "KARIYA_REDIS_URL": "kariya.redis_url",
    "KARIYA_SESSION_SECRET": "kariya.session_secret",
    "KARIYA_PUBLIC_URL": "kariya.public_url",
    "KARIYA_TRUSTED_PROXIES": "kariya.trusted_proxies",
    "KARIYA_BROKER_URL": "celery.broker_url",
    "KARIYA_CELERY_EAGER": "celery.always_eager",
    "KARIYA_CLOCK": "kariya.clock",
    "KARIYA_LINE_SIMULATOR": "kariya.line.simulator",
    "KARIYA_LINE_CHANNEL_ID": "kariya.line.channel_id",
    "KARIYA_LINE_CHANNEL_SECRET": "kariya.line.channel_secret",
    "KARIYA_TOTP_KEY": "kariya.staff.totp_key",
    "KARIYA_SMTP_HOST": "kariya.smtp.host",
    "KARIYA_SMTP_PORT": "kariya.smtp.port",
    "KARIYA_SMTP_USERNAME": "kariya.smtp.username",
    "KARIYA_SMTP_PASSWORD": "kariya.smtp.password",
    "KARIYA_WITHDRAWAL_KEY": "kariya.privacy.withdrawal_key",
    "KARIYA_TILL_SECRET": "kariya.till.secret",
}

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Keys that Pyramid and the libraries read themselves; our code never does.
LIBRARY_DEFAULTS = {
    "jinja2.directories": str(PROJECT_ROOT / "templates"),
    "jinja2.filters": "yen = views.filters:yen\njst = views.filters:jst\njst_date = views.filters:jst_date\njst_until = views.filters:jst_until\njst_day = views.filters:jst_day",
    "jinja2.globals": "csrf_token = pyramid.csrf:get_csrf_token\nrole_label = views.filters:role_label",
    "retry.attempts": "3",
    "tm.manager_hook": "pyramid_tm.explicit_manager",
    # 4xx and 5xx answers abort the transaction: a refused request writes nothing.
    "tm.commit_veto": "pyramid_tm.default_commit_veto",
    # No user on the transaction: it would read the session (Redis) on every request, outside
    # the exception views (a 503 then becomes a 500); the records name their actor themselves.
    "tm.annotate_user": "false",
    "pyramid.default_locale_name": "ja",
}

DEV_SECRET_MARKERS = ("dev-only", "change-me", "changeme", "secret")

# The LINE simulator's own channel, used where the simulator is on and no channel is configured.
SIMULATOR_CHANNEL_ID = "1234567890"
SIMULATOR_CHANNEL_SECRET = "line-simulator-channel-secret-dev-only"

# Where the application's one Settings object is kept in the Pyramid registry.
REGISTRY_KEY = "kariya.settings"


# --- the settings and their defaults ---------------------------------------------------------
# A group's fields are the keys PREFIX + name (a trailing underscore dropped: `from_` is "from").
# The type of a field says how its ini text is read; an empty value means the default.


@dataclasses.dataclass(frozen=True)
class Line:
    """LINE Login v2.1 (LINE.md): the Login channel, LINE's endpoints and our registered callback."""

    PREFIX: ClassVar[str] = "kariya.line."

    simulator: bool = False
    channel_id: str = ""
    channel_secret: str = dataclasses.field(default="", repr=False)
    authorize_url: str = "https://access.line.me/oauth2/v2.1/authorize"
    token_url: str = "https://api.line.me/oauth2/v2.1/token"
    friendship_url: str = "https://api.line.me/friendship/v1/status"
    redirect_uri: str = ""  # empty: {public_url}/login/line/callback
    timeout_seconds: float = 10.0
    # How residents add the city's official account as a friend (P-1), shown to non-friends.
    account_name: str = "刈谷市LINE公式アカウント"
    add_friend_url: str = ""


@dataclasses.dataclass(frozen=True)
class Callcenter:
    """The call centre (Q-1, Q-2): its number, its business calendar and its clocks. Business
    time counts only the open hours of open days (kariya/callcenter/calendar.py): open weekdays
    (1 = Monday ... 7 = Sunday), never on a public holiday (jpholiday) nor from `closed_from` to
    `closed_until` (month-day, the year-end closure)."""

    PREFIX: ClassVar[str] = "kariya.callcenter."

    phone: str = "0566-00-0000"
    hours: str = "平日 9:00〜17:00(土日祝日・12月29日〜1月3日を除く)"
    open_weekdays: tuple[int, ...] = (1, 2, 3, 4, 5)
    opens: str = "09:00"
    closes: str = "17:00"
    closed_from: str = "12-29"
    closed_until: str = "01-03"
    # An inquiry is due this many business hours after it is received (the clock pauses while
    # it waits on the caller); agents are warned this many business hours before.
    due_business_hours: int = 16
    due_warning_business_hours: int = 2
    # An escalation the city has not answered is reminded every this many business hours.
    escalation_reminder_business_hours: int = 4
    # A resolved inquiry closes by itself after this many business days.
    auto_close_business_days: int = 5
    # The city's contacts for escalations and their reminders (mail addresses, comma-separated).
    city_contacts: str = ""


@dataclasses.dataclass(frozen=True)
class Login:
    """Staff login limits (kariya/staff/throttle.py): failures within the window, per account
    from one address, per address, and per account from every address together."""

    PREFIX: ClassVar[str] = "kariya.login."

    max_failures_per_account: int = 5
    max_failures_per_address: int = 20
    max_failures_per_account_any_address: int = 50
    window_minutes: int = 15


@dataclasses.dataclass(frozen=True)
class Staff:
    """The staff's second factor (TOTP, kariya/staff/second_factor.py): required of city and
    secretariat accounts where `require_totp` (production refuses it off); `totp_key` encrypts
    the stored secrets (empty: a key derived from the session secret)."""

    PREFIX: ClassVar[str] = "kariya.staff."

    require_totp: bool = False
    totp_key: str = dataclasses.field(default="", repr=False)
    totp_issuer: str = "刈谷市電子割引券"


@dataclasses.dataclass(frozen=True)
class Settlement:
    PREFIX: ClassVar[str] = "kariya.settlement."

    # The days of the month a settlement period ends on ("15" or "10,20").
    cutoffs: tuple[int, ...] = (15,)


@dataclasses.dataclass(frozen=True)
class Zengin:
    """The Zengin transfer file and the operator's own account (the 振込依頼人)."""

    PREFIX: ClassVar[str] = "kariya.zengin."

    lead_days: int = 2
    separator: str = "crlf"
    transfer_code: str = "7"
    remitter_code: str = ""
    remitter_name: str = ""
    bank_code: str = ""
    branch_code: str = ""
    account_type: str = ""
    account_number: str = ""
    bank_name: str = ""
    branch_name: str = ""


@dataclasses.dataclass(frozen=True)
class Adjustments:
    PREFIX: ClassVar[str] = "kariya.adjustments."

    # The cap on one payout adjustment, in yen (an operator's guard against typos).
    max_amount: int = 1_000_000


@dataclasses.dataclass(frozen=True)
class Smtp:
    """Mail to stores (S-4). No host: mail waits in the outbox. Development and the tests point
    this at a local SMTP server (kariya mail-sink, or aiosmtpd in the tests)."""

    PREFIX: ClassVar[str] = "kariya.smtp."

    host: str = ""
    port: int = 25
    starttls: bool = False
    username: str = ""
    password: str = dataclasses.field(default="", repr=False)
    from_: str = "刈谷市電子割引券事務局 <noreply@example.jp>"
    timeout_seconds: float = 10.0
    max_attempts: int = 5


@dataclasses.dataclass(frozen=True)
class MailSink:
    """Development only: the local SMTP stand-in (kariya/dev/mail_sink.py); port 0 is off."""

    PREFIX: ClassVar[str] = "kariya.mail_sink."

    port: int = 0
    dir: Path = PROJECT_ROOT / "var" / "mail"


@dataclasses.dataclass(frozen=True)
class Reports:
    """The city's view (C-1, C-3): who at the city receives the status reports, and how often
    the beat refreshes the dashboard's figures."""

    PREFIX: ClassVar[str] = "kariya.reports."

    # The city's contacts (e-mail addresses, separated by commas) told of each round's report.
    city_contacts: tuple[str, ...] = ()
    dashboard_refresh_seconds: float = 60.0


@dataclasses.dataclass(frozen=True)
class Celery:
    PREFIX: ClassVar[str] = "celery."

    broker_url: str = "memory://"
    always_eager: bool = False


@dataclasses.dataclass(frozen=True)
class Settings:
    PREFIX: ClassVar[str] = "kariya."

    environment: str = "development"
    clock: str = "system"  # "system" or "settable" (development and tests only)
    session_secret: str = dataclasses.field(default="", repr=False)
    session_secure: bool = False
    # Server-side sessions (Redis) end after this long unused: residents', staff's.
    session_idle_minutes: int = 480
    session_staff_idle_minutes: int = 60
    public_url: str = "http://localhost:6543"
    redis_url: str = ""
    # Our reverse proxies' addresses or networks: only from them is X-Forwarded-For read.
    trusted_proxies: tuple[str, ...] = ()
    # Strict-Transport-Security max-age, sent where the public URL is https (0: not sent).
    hsts_seconds: int = 31_536_000
    # Development only: with eager Celery, run the beat schedule in a thread this often (0: off).
    inprocess_beat_seconds: float = 0.0
    line: Line = dataclasses.field(default_factory=Line)
    callcenter: Callcenter = dataclasses.field(default_factory=Callcenter)
    login: Login = dataclasses.field(default_factory=Login)
    rate_limit: RateLimit = dataclasses.field(default_factory=RateLimit)
    staff: Staff = dataclasses.field(default_factory=Staff)
    settlement: Settlement = dataclasses.field(default_factory=Settlement)
    zengin: Zengin = dataclasses.field(default_factory=Zengin)
    adjustments: Adjustments = dataclasses.field(default_factory=Adjustments)
    acquisition: Acquisition = dataclasses.field(
        default_factory=Acquisition
    )  # kariya/thresholds.py
    till: Till = dataclasses.field(default_factory=Till)  # kariya/thresholds.py
    smtp: Smtp = dataclasses.field(default_factory=Smtp)
    mail_sink: MailSink = dataclasses.field(default_factory=MailSink)
    reports: Reports = dataclasses.field(default_factory=Reports)
    privacy: Privacy = dataclasses.field(default_factory=Privacy)  # kariya/thresholds.py
    fraud: Fraud = dataclasses.field(default_factory=Fraud)  # kariya/thresholds.py
    celery: Celery = dataclasses.field(default_factory=Celery)
    # The effective ini mapping, for code that takes one (the libraries' own keys, and modules
    # that have not moved to the typed attributes yet). Read settings through the fields.
    raw: Mapping[str, Any] = dataclasses.field(
        default_factory=dict, compare=False, repr=False, hash=False
    )

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def clock_settable(self) -> bool:
        return self.clock == "settable"


# --- reading the ini text ---------------------------------------------------------------------

# Every key's default as ini text: the libraries' and ours (from the fields above).
DEFAULTS = {**LIBRARY_DEFAULTS, **typed_ini.defaults(Settings)}


def _derive(merged: dict[str, Any]) -> None:
    """Values that follow from others when the ini leaves them empty."""
    line = Line.PREFIX
    simulator = typed_ini.read(line + "simulator", bool, False, merged.get(line + "simulator"))
    if simulator and not merged.get(line + "channel_id"):
        merged[line + "channel_id"] = SIMULATOR_CHANNEL_ID
        merged[line + "channel_secret"] = SIMULATOR_CHANNEL_SECRET
    if not merged.get(line + "redirect_uri"):
        public_url = str(merged.get("kariya.public_url") or "").rstrip("/")
        merged[line + "redirect_uri"] = public_url + "/login/line/callback"


def _effective(settings: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(DEFAULTS)
    merged.update({k: v for k, v in settings.items() if v is not None})
    _derive(merged)
    return merged


# --- the public functions -----------------------------------------------------------------------


def load(settings: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the effective settings: defaults < ini < environment (checked)."""
    environ = os.environ if environ is None else environ
    given = dict(settings)
    for env_name, key in ENV_OVERRIDES.items():
        if environ.get(env_name):
            given[key] = environ[env_name]
    merged = _effective(given)
    check(merged)
    return merged


def parse(settings: Mapping[str, Any], *, raw: Mapping[str, Any] | None = None) -> Settings:
    """The typed settings of an ini mapping (its missing keys take their defaults; nothing is
    read from the environment, nothing checked). Raises ConfigurationError on a bad value."""
    merged = _effective(settings)
    built: Settings = typed_ini.build(Settings, merged)
    view = types.MappingProxyType(merged if raw is None else raw)
    return dataclasses.replace(built, raw=view)


def settings_of(source: Settings | Registry | Mapping[str, Any]) -> Settings:
    """The typed settings of an application's registry (made once), or of an ini mapping."""
    if isinstance(source, Settings):
        return source
    if isinstance(source, Registry):
        found: Settings | None = source.get(REGISTRY_KEY)
        if found is None:
            found = source[REGISTRY_KEY] = parse(source.settings or {}, raw=source.settings)
        return found
    return parse(source)


def is_production(settings: Settings | Mapping[str, Any]) -> bool:
    return settings_of(settings).is_production


def clock_settable(settings: Settings | Mapping[str, Any]) -> bool:
    return settings_of(settings).clock_settable


def line_simulator(settings: Settings | Mapping[str, Any]) -> bool:
    return settings_of(settings).line.simulator


def dev_stand_ins(settings: Settings | Mapping[str, Any]) -> bool:
    """Whether any development stand-in (kariya/dev/, views/dev.py) is on."""
    s = settings_of(settings)
    return s.clock_settable or s.line.simulator or bool(s.mail_sink.port)


# A production secret: at least this long, this many different characters, and this much
# entropy by its own character frequencies (a 64-character token_urlsafe has about 350 bits).
SECRET_MIN_LENGTH, SECRET_MIN_DISTINCT, SECRET_MIN_BITS = 32, 12, 128


def secret_strength_problem(secret: str) -> str | None:
    """Why `secret` is too weak to sign production sessions, or None."""
    counts = collections.Counter(secret)
    bits = -sum(n * math.log2(n / len(secret)) for n in counts.values())
    if len(secret) < SECRET_MIN_LENGTH:
        return f"it is shorter than {SECRET_MIN_LENGTH} characters"
    if any(m in secret.lower() for m in DEV_SECRET_MARKERS):
        return "it is a development default"
    if len(counts) < SECRET_MIN_DISTINCT:
        return f"it has fewer than {SECRET_MIN_DISTINCT} different characters"
    if bits < SECRET_MIN_BITS:
        return f"it carries about {bits:.0f} bits of entropy, fewer than {SECRET_MIN_BITS}"
    return None


def _check_callcenter(c: Callcenter) -> None:
    """The call centre's calendar must be readable (kariya.callcenter.calendar reads it)."""
    prefix = Callcenter.PREFIX
    for name in ("opens", "closes"):
        if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", getattr(c, name).strip()):
            raise ConfigurationError(f"{prefix}{name} must be a time like 09:00")
    if c.opens.strip().zfill(5) >= c.closes.strip().zfill(5):
        raise ConfigurationError(f"{prefix}opens must be before {prefix}closes")
    for name in ("closed_from", "closed_until"):
        if not re.fullmatch(r"(0?[1-9]|1[0-2])-(0?[1-9]|[12]\d|3[01])", getattr(c, name).strip()):
            raise ConfigurationError(f"{prefix}{name} must be a month-day like 12-29")
    if not c.open_weekdays or any(d not in range(1, 8) for d in c.open_weekdays):
        raise ConfigurationError(f"{prefix}open_weekdays must be days 1 (Monday) to 7 (Sunday)")
    hours = (
        c.due_business_hours,
        c.escalation_reminder_business_hours,
        c.auto_close_business_days,
    )
    if min(hours) < 1 or c.due_warning_business_hours < 0:
        raise ConfigurationError(f"{prefix}: the business hours and days must be positive")


def check(settings: Settings | Mapping[str, Any]) -> None:
    """Refuse a configuration that would be unsafe where it is used."""
    s = settings_of(settings)
    if s.clock not in ("system", "settable"):
        raise ConfigurationError("kariya.clock must be 'system' or 'settable'")
    for entry in s.trusted_proxies:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ConfigurationError(f"kariya.trusted_proxies: {entry!r} is no address") from None
    _check_callcenter(s.callcenter)
    s.rate_limit.check()
    if s.till.max_pin_failures < 1:
        raise ConfigurationError("kariya.till.max_pin_failures must be at least 1")
    secret = s.session_secret
    if not s.is_production:
        if not secret:
            raise ConfigurationError("kariya.session_secret is empty")
        return
    problems = []
    if s.clock_settable:
        problems.append("kariya.clock = settable is for development only")
    if s.line.simulator:
        problems.append("kariya.line.simulator = true is for development only")
    if s.celery.always_eager:
        problems.append("celery.always_eager = true is for development only")
    if s.mail_sink.port != 0:
        problems.append(
            "kariya.mail_sink.port must be 0 or empty (the mail sink is for development only)"
        )
    weakness = secret_strength_problem(secret)
    if weakness:
        problems.append(
            f"kariya.session_secret is too weak ({weakness}): it must be a random value of at "
            "least 32 characters, e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            " (set KARIYA_SESSION_SECRET)"
        )
    problems += s.privacy.production_problems(secret)
    if not s.staff.require_totp:
        problems.append("kariya.staff.require_totp must be true (city and secretariat accounts)")
    if s.staff.totp_key and (weakness := secret_strength_problem(s.staff.totp_key)):
        problems.append(f"kariya.staff.totp_key is too weak ({weakness}; set KARIYA_TOTP_KEY)")
    if not s.redis_url:
        problems.append("kariya.redis_url must be set (the sessions live in Redis)")
    if not s.public_url.startswith("https://"):
        problems.append("kariya.public_url must be an https:// URL (set KARIYA_PUBLIC_URL)")
    if not s.session_secure:
        problems.append("kariya.session_secure must be true (cookies over HTTPS only)")
    if not s.line.channel_id or not s.line.channel_secret:
        problems.append(
            "kariya.line.channel_id and kariya.line.channel_secret must be set "
            "(set KARIYA_LINE_CHANNEL_ID and KARIYA_LINE_CHANNEL_SECRET)"
        )
    till_weakness = s.till.secret and secret_strength_problem(s.till.secret)
    if till_weakness:
        problems.append(
            f"kariya.till.secret is too weak ({till_weakness}) (set KARIYA_TILL_SECRET)"
        )
    if problems:
        raise ConfigurationError("production.ini refuses to start: " + "; ".join(problems))


def includeme(config: Configurator) -> None:
    """Keep the typed settings in the registry; views read them as `request.kariya_settings`."""
    settings_of(config.registry)
    config.add_request_method(
        lambda request: settings_of(request.registry), "kariya_settings", reify=True
    )
