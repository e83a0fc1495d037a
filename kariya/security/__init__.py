"""Pyramid 2 security policy: who is asking (a server-side session) and what each role may do.

The session cookie carries only a signed random id (`kariya.security.sessions`); logging out,
a password change, a role change and idleness end a session for good. The HTTP edge (client
address, public URL, security headers) is `kariya.security.http`.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import hmac

import redis
from pyramid.csrf import SessionCSRFStoragePolicy
from pyramid.security import Allowed, Denied

from kariya import roles
from kariya.security.sessions import MemoryStore, RedisStore, SessionFactory
from kariya.settings import Settings, settings_of
from kariya.staff.models import StaffUser

SESSION_FACTORY_KEY = "kariya.session_factory"
REDIS_CONNECTIONS = 64  # per process: the sessions' and the rate limits' Redis


class P(enum.StrEnum):
    """Permissions, named scope:resource:action."""

    RESIDENT_HOME_VIEW = "resident:home:view"
    RESIDENT_PROFILE_EDIT = "resident:profile:edit"
    RESIDENT_COUPONS_ACQUIRE = "resident:coupons:acquire"
    RESIDENT_COUPONS_USE = "resident:coupons:use"
    RESIDENT_ACCOUNT_WITHDRAW = "resident:account:withdraw"
    STORE_HOME_VIEW = "store:home:view"
    STORE_REDEMPTIONS_VOID = "store:redemptions:void"
    CALLCENTER_HOME_VIEW = "callcenter:home:view"
    CALLCENTER_PERSONS_VIEW = "callcenter:persons:view"
    SECRETARIAT_HOME_VIEW = "secretariat:home:view"
    SECRETARIAT_CAMPAIGN_EDIT = "secretariat:campaign:edit"
    SECRETARIAT_WORKFLOWS_VIEW = "secretariat:workflows:view"
    SECRETARIAT_TICK_RUN = "secretariat:tick:run"
    SECRETARIAT_LEDGER_VIEW = "secretariat:ledger:view"
    SECRETARIAT_MATERIALS_VIEW = "secretariat:materials:view"
    SECRETARIAT_MATERIALS_BUILD = "secretariat:materials:build"
    SECRETARIAT_STORE_QR_REISSUE = "secretariat:store_qr:reissue"
    SECRETARIAT_PAYOUTS_EDIT = "secretariat:payouts:edit"
    SECRETARIAT_STORES_VIEW = "secretariat:stores:view"
    SECRETARIAT_STORES_IMPORT = "secretariat:stores:import"
    SECRETARIAT_STORES_EDIT = "secretariat:stores:edit"
    CITY_HOME_VIEW = "city:home:view"
    CITY_PAYOUTS_APPROVE = "city:payouts:approve"
    STORE_STATEMENTS_VIEW = "store:statements:view"
    CITY_ISSUANCE_HALT = "city:issuance:halt"
    CITY_LEDGER_VIEW = "city:ledger:view"
    STAFF_SELF_VIEW = "staff:self:view"
    STORE_NOTICES_READ = "store:notices:read"
    STORE_BANK_REQUEST = "store:bank:request"
    SECRETARIAT_NOTICES_EDIT = "secretariat:notices:edit"
    SECRETARIAT_BANK_DECIDE = "secretariat:bank:decide"
    SECRETARIAT_ADJUSTMENTS_PROPOSE = "secretariat:adjustments:propose"
    SECRETARIAT_STAFF_UNLOCK = "secretariat:staff:unlock"
    SECRETARIAT_SECOND_FACTOR_RESET = "secretariat:second_factor:reset"
    CITY_ADJUSTMENTS_DECIDE = "city:adjustments:decide"
    STAFF_DASHBOARD_VIEW = "staff:dashboard:view"
    CITY_EXPORTS_RUN = "city:exports:run"
    CITY_REPORTS_VIEW = "city:reports:view"
    CITY_HANDOVER_DECIDE = "city:handover:decide"
    SECRETARIAT_HANDOVER_RUN = "secretariat:handover:run"
    # The call centre (Q-1..Q-3) and the access log (D-1).
    CALLCENTER_INQUIRIES_VIEW = "callcenter:inquiries:view"
    CALLCENTER_INQUIRIES_EDIT = "callcenter:inquiries:edit"
    CALLCENTER_STORES_VIEW = "callcenter:stores:view"
    CALLCENTER_TRANSFERS_REQUEST = "callcenter:transfers:request"
    CALLCENTER_REPORTS_VIEW = "callcenter:reports:view"
    CITY_INQUIRIES_ANSWER = "city:inquiries:answer"
    CITY_TRANSFERS_APPROVE = "city:transfers:approve"
    AUDIT_ACCESS_LOG_VIEW = "audit:access_log:view"
    AUDIT_STAFF_ACTIONS_VIEW = "audit:staff_actions:view"  # the audit log of staff actions
    # Documents the city approves (C-4, S-3, Q-3, I-1).
    STAFF_DOCUMENTS_VIEW = "staff:documents:view"
    SECRETARIAT_DOCUMENTS_EDIT = "secretariat:documents:edit"
    CITY_DOCUMENTS_APPROVE = "city:documents:approve"
    # The fraud watch (issue 15): the cases, reviewed by the secretariat, decided by the city.
    STAFF_FRAUD_VIEW = "staff:fraud:view"
    SECRETARIAT_FRAUD_REVIEW = "secretariat:fraud:review"
    CITY_FRAUD_DECIDE = "city:fraud:decide"
    # At the till (issue 15): the store's own staff PIN.
    STORE_TILL_MANAGE = "store:till:manage"


ROLE_PERMISSIONS: dict[str, frozenset[P]] = {
    roles.RESIDENT: frozenset(
        {
            P.RESIDENT_HOME_VIEW,
            P.RESIDENT_PROFILE_EDIT,
            P.RESIDENT_COUPONS_ACQUIRE,
            P.RESIDENT_COUPONS_USE,
            P.RESIDENT_ACCOUNT_WITHDRAW,
        }
    ),
    roles.STORE: frozenset(
        {
            P.STORE_STATEMENTS_VIEW,
            P.STORE_HOME_VIEW,
            P.STORE_REDEMPTIONS_VOID,
            P.STORE_NOTICES_READ,
            P.STORE_BANK_REQUEST,
            P.STORE_TILL_MANAGE,
            P.STAFF_SELF_VIEW,
            P.STAFF_DOCUMENTS_VIEW,
        }
    ),
    # Agents look up and log; they never approve, never answer for the city, and nothing about
    # money is theirs to change (no payout, adjustment, void or bank permission).
    roles.AGENT: frozenset(
        {
            P.CALLCENTER_HOME_VIEW,
            P.CALLCENTER_PERSONS_VIEW,
            P.CALLCENTER_INQUIRIES_VIEW,
            P.CALLCENTER_INQUIRIES_EDIT,
            P.CALLCENTER_STORES_VIEW,
            P.CALLCENTER_TRANSFERS_REQUEST,
            P.STAFF_SELF_VIEW,
            P.STAFF_DOCUMENTS_VIEW,
        }
    ),
    roles.SECRETARIAT: frozenset(
        {
            P.SECRETARIAT_HOME_VIEW,
            P.SECRETARIAT_CAMPAIGN_EDIT,
            P.SECRETARIAT_WORKFLOWS_VIEW,
            P.SECRETARIAT_TICK_RUN,
            P.SECRETARIAT_LEDGER_VIEW,
            P.SECRETARIAT_PAYOUTS_EDIT,
            P.SECRETARIAT_MATERIALS_VIEW,
            P.SECRETARIAT_MATERIALS_BUILD,
            P.SECRETARIAT_STORE_QR_REISSUE,
            P.SECRETARIAT_STORES_VIEW,
            P.SECRETARIAT_STORES_IMPORT,
            P.SECRETARIAT_STORES_EDIT,
            P.SECRETARIAT_NOTICES_EDIT,
            P.SECRETARIAT_BANK_DECIDE,
            P.SECRETARIAT_ADJUSTMENTS_PROPOSE,
            P.SECRETARIAT_STAFF_UNLOCK,
            P.SECRETARIAT_SECOND_FACTOR_RESET,
            P.CALLCENTER_PERSONS_VIEW,
            P.CALLCENTER_INQUIRIES_VIEW,
            P.CALLCENTER_INQUIRIES_EDIT,
            P.CALLCENTER_REPORTS_VIEW,
            P.AUDIT_ACCESS_LOG_VIEW,
            P.AUDIT_STAFF_ACTIONS_VIEW,
            P.STAFF_SELF_VIEW,
            P.STAFF_DASHBOARD_VIEW,
            P.SECRETARIAT_HANDOVER_RUN,
            P.STAFF_DOCUMENTS_VIEW,
            P.SECRETARIAT_DOCUMENTS_EDIT,
            P.STAFF_FRAUD_VIEW,
            P.SECRETARIAT_FRAUD_REVIEW,
        }
    ),
    roles.CITY: frozenset(
        {
            P.CITY_PAYOUTS_APPROVE,
            P.CITY_HOME_VIEW,
            P.CITY_ISSUANCE_HALT,
            P.CITY_LEDGER_VIEW,
            P.CITY_ADJUSTMENTS_DECIDE,
            P.CALLCENTER_INQUIRIES_VIEW,
            P.CALLCENTER_REPORTS_VIEW,
            P.CITY_INQUIRIES_ANSWER,
            P.CITY_TRANSFERS_APPROVE,
            P.AUDIT_ACCESS_LOG_VIEW,
            P.AUDIT_STAFF_ACTIONS_VIEW,
            P.STAFF_SELF_VIEW,
            P.STAFF_DASHBOARD_VIEW,
            P.CITY_EXPORTS_RUN,
            P.CITY_REPORTS_VIEW,
            P.CITY_HANDOVER_DECIDE,
            P.STAFF_DOCUMENTS_VIEW,
            P.CITY_DOCUMENTS_APPROVE,
            P.STAFF_FRAUD_VIEW,
            P.CITY_FRAUD_DECIDE,
        }
    ),
}


@dataclasses.dataclass(frozen=True)
class Identity:
    role: str
    id: int  # staff_user.id, or person.id for residents
    username: str = ""
    display_name: str = ""
    store_id: int | None = None

    @property
    def actor(self) -> str:
        """How the transition and ledger records name this identity."""
        if self.role == roles.RESIDENT:
            return f"person:{self.id}"
        return f"staff:{self.username}"

    @property
    def is_staff(self) -> bool:
        return self.role in roles.STAFF_ROLES


class SecurityPolicy:
    """Staff are reloaded from the database per request (a disabled account is out at once, a
    changed password or role ends every session of the account); residents are carried by the
    session alone, to keep the weekly rush at one Redis read."""

    def identity(self, request) -> Identity | None:
        return request.identity_cache

    def authenticated_userid(self, request):
        identity = request.identity
        return None if identity is None else f"{identity.role}:{identity.id}"

    def permits(self, request, context, permission):
        identity = request.identity
        if identity is None:
            return Denied("not logged in")
        if permission in ROLE_PERMISSIONS.get(identity.role, ()):
            return Allowed(f"{identity.role} may {permission}")
        return Denied(f"{identity.role} may not {permission}")

    def remember(self, request, identity: Identity, *, second_factor: bool = False, **kw):
        """`second_factor`: the login passed the account's second factor (a staff account that
        needs one is nobody without it, kariya/staff/second_factor.py)."""
        request.session.invalidate()  # a fresh session (and id) at every login: no fixation
        auth = {"role": identity.role, "id": identity.id}
        if identity.is_staff:
            user = request.db.get(StaffUser, identity.id)
            auth["stamp"] = credential_stamp(request.kariya_settings, user)
            if second_factor:
                auth["mfa"] = True
        request.session["auth"] = auth
        return []

    def forget(self, request, **kw):
        request.session.invalidate()  # the server-side record is deleted
        return []


def credential_stamp(settings: Settings, user: StaffUser) -> str:
    """What a staff session remembers of the account's credentials: a new password or role,
    a second factor switched on or reset, changes it, and every session holding the old one
    ends."""
    message = f"{user.id}:{user.role}:{user.password_hash}"
    if user.totp_enabled_at is not None:
        message += f":totp:{user.totp_enabled_at.timestamp()}"
    message = message.encode()
    key = settings.session_secret.encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def _load_identity(request) -> Identity | None:
    auth = request.session.get("auth")
    if not auth:
        return None
    if auth["role"] == roles.RESIDENT:
        return Identity(role=roles.RESIDENT, id=auth["id"])
    user = request.db.get(StaffUser, auth["id"])
    if (
        user is None
        or not user.active
        or user.role != auth["role"]
        or not hmac.compare_digest(
            str(auth.get("stamp", "")), credential_stamp(request.kariya_settings, user)
        )
        # A session that never passed the second factor the account now needs (the setting
        # was switched on after it began) is nobody: log in again.
        or (
            user.needs_second_factor(request.kariya_settings.staff.require_totp)
            and not auth.get("mfa")
        )
    ):
        request.session.invalidate()  # revoked: the record goes
        return None
    return Identity(
        role=user.role,
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        store_id=user.store_id,
    )


def _idle_seconds(settings: Settings):
    resident = settings.session_idle_minutes * 60
    staff = settings.session_staff_idle_minutes * 60

    def ttl(state: dict) -> int:
        auth = state.get("auth")
        is_staff = isinstance(auth, dict) and auth.get("role") in roles.STAFF_ROLES
        return staff if is_staff else resident

    return ttl


def _answer_unavailable(request, response, exc_info) -> None:
    """A changed session could not be saved after the view ran: the response becomes the
    app's answer to the store being down (the Japanese 503 page or JSON, views/errors.py)."""
    page = request.invoke_exception_view(exc_info, reraise=False)
    response.status = page.status
    response.headerlist = list(page.headerlist)
    response.app_iter = page.app_iter


def session_store(settings: Settings):
    """Redis where it is configured (always in production); else this process's memory."""
    if not settings.redis_url:
        return MemoryStore()
    # A bounded pool that waits for a free connection (at most the socket timeout, then the 503
    # page): redis-py's default pool refuses its 101st connection at once, which a worker with
    # many requests in flight reaches (issue 16).
    pool = redis.BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=REDIS_CONNECTIONS,
        timeout=2,
        socket_timeout=2,
        socket_connect_timeout=2,
        health_check_interval=30,
    )
    client = redis.Redis(connection_pool=pool)
    return RedisStore(client)


def includeme(config):
    settings = settings_of(config.registry)
    store = session_store(settings)
    config.registry["kariya.session_store"] = store
    factory = SessionFactory(
        store,
        settings.session_secret,
        ttl=_idle_seconds(settings),
        secure=settings.session_secure,
        refresh=min(300, settings.session_staff_idle_minutes * 6),
        lost=_answer_unavailable,
    )
    config.set_session_factory(factory)
    config.registry[SESSION_FACTORY_KEY] = factory  # views/ratelimits.py counts as it loads
    config.set_csrf_storage_policy(SessionCSRFStoragePolicy())
    config.set_default_csrf_options(require_csrf=True)
    config.add_request_method(_load_identity, "identity_cache", reify=True)
    config.set_security_policy(SecurityPolicy())
    config.include("kariya.security.http")
