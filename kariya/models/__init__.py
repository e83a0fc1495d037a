"""Every domain's mapped classes in one namespace (Alembic, the mappers, the tests); importing
this module configures the mappers. Domains import `kariya.orm` and each other's `models`, never
this module, so it can import them all."""

from sqlalchemy.orm import configure_mappers

from kariya.audit.models import AccessRecord, StaffAction
from kariya.callcenter.models import Inquiry, InquiryEvent, InquiryReminder, PersonTransfer
from kariya.campaign.models import Campaign, Round
from kariya.clock import ClockSetting
from kariya.coupons.models import Acquisition, Coupon
from kariya.documents.models import Document, DocumentVersion, TermsConsent
from kariya.fraud.models import FraudCase, FraudEvidence
from kariya.ledger.models import LedgerEntry, LedgerPosting
from kariya.mail.models import OutboundMail
from kariya.materials.models import MaterialJob, MaterialJobChunk
from kariya.orm import Base
from kariya.payouts.models import (
    BankChangeRequest,
    PayoutAdjustment,
    PayoutBatch,
    PayoutHold,
    PayoutItem,
    PayoutLine,
)
from kariya.redemptions.models import Redemption, StoreUse, TillLock
from kariya.reports.models import (
    DashboardSnapshot,
    ErasureRequest,
    ExportJob,
    ExportJobChunk,
    StatusReport,
)
from kariya.residents.models import IdempotencyRecord, Person
from kariya.staff.models import (
    LoginAttempt,
    LoginUnlock,
    RecoveryCode,
    SecondFactorReset,
    StaffUser,
)
from kariya.stores.importer.models import UploadedFile
from kariya.stores.models import Store, StoreNotice, StoreNoticeRead
from workflows.binding import TransitionRecord

configure_mappers()

__all__ = [
    "AccessRecord",
    "Acquisition",
    "BankChangeRequest",
    "Base",
    "Campaign",
    "ClockSetting",
    "Coupon",
    "DashboardSnapshot",
    "ErasureRequest",
    "ExportJob",
    "ExportJobChunk",
    "FraudCase",
    "FraudEvidence",
    "Document",
    "DocumentVersion",
    "IdempotencyRecord",
    "Inquiry",
    "InquiryEvent",
    "InquiryReminder",
    "LedgerEntry",
    "LedgerPosting",
    "LoginAttempt",
    "LoginUnlock",
    "MaterialJob",
    "MaterialJobChunk",
    "OutboundMail",
    "PayoutAdjustment",
    "PayoutBatch",
    "PayoutHold",
    "PayoutItem",
    "PayoutLine",
    "Person",
    "PersonTransfer",
    "RecoveryCode",
    "Redemption",
    "Round",
    "SecondFactorReset",
    "StaffAction",
    "StaffUser",
    "StatusReport",
    "Store",
    "StoreNotice",
    "StoreNoticeRead",
    "StoreUse",
    "TermsConsent",
    "TillLock",
    "TransitionRecord",
    "UploadedFile",
]
