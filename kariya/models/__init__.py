"""All mapped classes; importing this module configures the mappers."""

from sqlalchemy.orm import configure_mappers

from kariya.models.audit import IdempotencyRecord, TransitionRecord
from kariya.models.campaign import Campaign, Round
from kariya.models.issuance import Acquisition, Coupon
from kariya.models.ledger import LedgerEntry, LedgerPosting
from kariya.models.meta import Base
from kariya.models.payout import PayoutAdjustment, PayoutBatch, PayoutItem, PayoutLine
from kariya.models.person import Person
from kariya.models.redemption import Redemption, StoreUse
from kariya.models.staff import ClockSetting, LoginAttempt, StaffUser
from kariya.models.store import Store
from kariya.models.store_contact import (
    BankChangeRequest,
    OutboundMail,
    StoreNotice,
    StoreNoticeRead,
)

configure_mappers()

__all__ = [
    "Acquisition",
    "BankChangeRequest",
    "Base",
    "Campaign",
    "ClockSetting",
    "Coupon",
    "IdempotencyRecord",
    "LedgerEntry",
    "LedgerPosting",
    "LoginAttempt",
    "OutboundMail",
    "PayoutAdjustment",
    "PayoutBatch",
    "PayoutItem",
    "PayoutLine",
    "Person",
    "Redemption",
    "Round",
    "StaffUser",
    "Store",
    "StoreNotice",
    "StoreNoticeRead",
    "StoreUse",
    "TransitionRecord",
]
