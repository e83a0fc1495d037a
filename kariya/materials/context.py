"""What the printed materials say, besides the store: the campaign's rules (kariya.campaign.rules),
the call centre from the settings, and the settlement periods the payouts follow. The same facts
fill in the documents' placeholders (kariya.documents.placeholders): `for_documents`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Mapping

from sqlalchemy.orm import Session

from kariya.campaign import definition
from kariya.campaign import rules as campaign_rules
from kariya.campaign.models import Campaign
from kariya.campaign.rules import Rules
from kariya.documents import kinds, versions
from kariya.documents.models import DocumentVersion
from kariya.documents.placeholders import Facts
from kariya.errors import Conflict
from kariya.payouts import settlement
from kariya.settings import settings_of


@dataclasses.dataclass(frozen=True)
class PrintContext:
    rules: Rules
    callcenter_phone: str
    callcenter_hours: str
    # The published store manual (kariya.documents), which every store's set carries.
    manual: DocumentVersion | None = None

    @functools.cached_property
    def settlement_periods(self) -> list[str]:
        """Each settlement period of the programme, as the manual lists it."""
        r = self.rules
        first, last = r.starts, r.ends
        periods = settlement.periods_between(
            first, r.last_moment(last), r.settlement_cutoffs, tz=r.zone
        )
        labels = []
        for p in periods:
            since = r.day(max(p.starts, first))
            until = r.day(r.last_moment(min(p.ends, last)))
            labels.append(f"{since}のご利用分" if since == until else f"{since}〜{until}のご利用分")
        return labels

    @functools.cached_property
    def settlements_per_month(self) -> int:
        """How many periods a whole month has (31 days: every cut-off day counts)."""
        zone = self.rules.zone
        month_start = dt.datetime(2024, 1, 1, tzinfo=zone)  # any 31-day month
        month_end = dt.datetime(2024, 1, 31, 12, tzinfo=zone)
        return len(
            settlement.periods_between(
                month_start, month_end, self.rules.settlement_cutoffs, tz=zone
            )
        )


def of(campaign: Campaign, settings: Mapping) -> PrintContext:
    if not campaign.rounds:
        raise Conflict("キャンペーンに回が登録されていないため、掲示物を作成できません。")
    return PrintContext(
        rules=campaign_rules.of(campaign, settings),
        callcenter_phone=settings_of(settings).callcenter.phone,
        callcenter_hours=settings_of(settings).callcenter.hours,
    )


def current(db: Session, settings: Mapping) -> PrintContext:
    """The latest campaign's facts, with the published store manual."""
    campaign = definition.latest(db)
    if campaign is None:
        raise Conflict(
            "キャンペーンが登録されていないため、掲示物を作成できません。", code="NO_CAMPAIGN"
        )
    return dataclasses.replace(
        of(campaign, settings), manual=versions.published(db, kinds.STORE_MANUAL)
    )


def for_documents(db: Session, settings: Mapping) -> PrintContext | Facts:
    """The facts a document's placeholders are filled in with: the current campaign's, or,
    before a campaign with rounds exists, only the call centre's (the numbers read "(未定)")."""
    campaign = definition.latest(db)
    if campaign is not None and campaign.rounds:
        return of(campaign, settings)
    callcenter = settings_of(settings).callcenter
    return Facts(rules=None, callcenter_phone=callcenter.phone, callcenter_hours=callcenter.hours)
