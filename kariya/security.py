"""Pyramid 2 security policy: who is asking (session cookie) and what each role may do."""

from __future__ import annotations

import dataclasses
import enum

from pyramid.csrf import SessionCSRFStoragePolicy
from pyramid.security import Allowed, Denied
from pyramid.session import JSONSerializer, SignedCookieSessionFactory

from kariya import roles
from kariya.settings import settings_of
from kariya.staff.models import StaffUser


class P(enum.StrEnum):
    """Permissions, named scope:resource:action."""

    RESIDENT_HOME_VIEW = "resident:home:view"
    RESIDENT_PROFILE_EDIT = "resident:profile:edit"
    RESIDENT_COUPONS_ACQUIRE = "resident:coupons:acquire"
    RESIDENT_COUPONS_USE = "resident:coupons:use"
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
    CITY_ADJUSTMENTS_DECIDE = "city:adjustments:decide"
    # The call centre (Q-1..Q-3) and the access log (D-1).
    CALLCENTER_INQUIRIES_VIEW = "callcenter:inquiries:view"
    CALLCENTER_INQUIRIES_EDIT = "callcenter:inquiries:edit"
    CALLCENTER_STORES_VIEW = "callcenter:stores:view"
    CALLCENTER_TRANSFERS_REQUEST = "callcenter:transfers:request"
    CALLCENTER_REPORTS_VIEW = "callcenter:reports:view"
    CITY_INQUIRIES_ANSWER = "city:inquiries:answer"
    CITY_TRANSFERS_APPROVE = "city:transfers:approve"
    AUDIT_ACCESS_LOG_VIEW = "audit:access_log:view"
    # Documents the city approves (C-4, S-3, Q-3, I-1).
    STAFF_DOCUMENTS_VIEW = "staff:documents:view"
    SECRETARIAT_DOCUMENTS_EDIT = "secretariat:documents:edit"
    CITY_DOCUMENTS_APPROVE = "city:documents:approve"


ROLE_PERMISSIONS: dict[str, frozenset[P]] = {
    roles.RESIDENT: frozenset(
        {
            P.RESIDENT_HOME_VIEW,
            P.RESIDENT_PROFILE_EDIT,
            P.RESIDENT_COUPONS_ACQUIRE,
            P.RESIDENT_COUPONS_USE,
        }
    ),
    roles.STORE: frozenset(
        {
            P.STORE_STATEMENTS_VIEW,
            P.STORE_HOME_VIEW,
            P.STORE_REDEMPTIONS_VOID,
            P.STORE_NOTICES_READ,
            P.STORE_BANK_REQUEST,
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
            P.CALLCENTER_PERSONS_VIEW,
            P.CALLCENTER_INQUIRIES_VIEW,
            P.CALLCENTER_INQUIRIES_EDIT,
            P.CALLCENTER_REPORTS_VIEW,
            P.AUDIT_ACCESS_LOG_VIEW,
            P.STAFF_SELF_VIEW,
            P.STAFF_DOCUMENTS_VIEW,
            P.SECRETARIAT_DOCUMENTS_EDIT,
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
            P.STAFF_SELF_VIEW,
            P.STAFF_DOCUMENTS_VIEW,
            P.CITY_DOCUMENTS_APPROVE,
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
    """Staff are reloaded from the database per request (a disabled account is out at once);
    residents are carried by the signed session alone, to keep the weekly rush cheap."""

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

    def remember(self, request, identity: Identity, **kw):
        request.session.invalidate()  # a fresh session at every login: no fixation
        request.session["auth"] = {"role": identity.role, "id": identity.id}
        return []

    def forget(self, request, **kw):
        request.session.invalidate()
        return []


def _load_identity(request) -> Identity | None:
    auth = request.session.get("auth")
    if not auth:
        return None
    if auth["role"] == roles.RESIDENT:
        return Identity(role=roles.RESIDENT, id=auth["id"])
    user = request.db.get(StaffUser, auth["id"])
    if user is None or not user.active or user.role != auth["role"]:
        return None
    return Identity(
        role=user.role,
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        store_id=user.store_id,
    )


def includeme(config):
    settings = settings_of(config.registry)
    session_factory = SignedCookieSessionFactory(
        settings.session_secret,
        cookie_name="kariya_session",
        httponly=True,
        samesite="Lax",
        secure=settings.session_secure,
        timeout=60 * 60 * 8,
        reissue_time=60 * 10,
        serializer=JSONSerializer(),
    )
    config.set_session_factory(session_factory)
    config.set_csrf_storage_policy(SessionCSRFStoragePolicy())
    config.set_default_csrf_options(require_csrf=True)
    config.add_request_method(_load_identity, "identity_cache", reify=True)
    config.set_security_policy(SecurityPolicy())
