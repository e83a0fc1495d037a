"""The campaign's rules, once: every number of the campaign and every sentence that states one.

`Rules` is built from the Campaign and Round rows (`of`) and the one setting it needs (the
settlement cut-off days); pages, printed materials and services ask it rather than writing a
number or a sentence of their own. It imports no other domain, so every domain may use it. `current(db, settings)` is the latest campaign's rules (None
before a campaign exists). Times are shown and cut in the campaign's own time zone (`zone`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from kariya.campaign.models import Campaign
from kariya.clock import JST
from kariya.settings import Settings, settings_of

WEEKDAYS = "月火水木金土日"
WEEK = dt.timedelta(weeks=1)

# Who pays the bank's transfer fee, as stores read it (manual, statements, the portal).
FEE_SENTENCE = "振込手数料は事務局が負担します。お店の受取額から差し引くことはありません。"


def yen(value: int) -> str:
    return f"{value:,}円"


def settlement_cutoffs(settings: Settings | Mapping | None) -> tuple[int, ...]:
    """The settlement cadence (setting kariya.settlement.cutoffs, e.g. "15" or "10,20")."""
    return settings_of(settings if settings is not None else {}).settlement.cutoffs


@dataclasses.dataclass(frozen=True)
class RoundDates:
    number: int
    starts: dt.datetime  # aware, inclusive
    ends: dt.datetime  # aware, exclusive


@dataclasses.dataclass(frozen=True)
class Rules:
    campaign_name: str
    timezone: str
    total_funds: int
    face: int  # one coupon, yen
    per_pack: int  # coupons a person receives each round
    store_limit: int  # coupons per person, store and round
    min_bill_one: int  # the least bill for one coupon
    min_bill_two: int  # the least bill for two used at once
    void_window_minutes: int
    rounds: tuple[RoundDates, ...]
    settlement_cutoffs: tuple[int, ...]

    # --- numbers ---------------------------------------------------------------------------

    @property
    def pack(self) -> int:
        """What one person receives each round, in yen."""
        return self.face * self.per_pack

    @functools.cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def starts(self) -> dt.datetime | None:
        return self.rounds[0].starts if self.rounds else None

    @property
    def ends(self) -> dt.datetime | None:
        return self.rounds[-1].ends if self.rounds else None

    @property
    def weekly(self) -> bool:
        """Every round lasts one week (the sentences then say "1週間" and "今週")."""
        return bool(self.rounds) and all(r.ends - r.starts == WEEK for r in self.rounds)

    # --- times in the campaign's zone ------------------------------------------------------

    def local(self, moment: dt.datetime) -> dt.datetime:
        return moment.astimezone(self.zone)

    def day(self, moment: dt.datetime, year: bool = False) -> str:
        """ "1月15日(月)", or "2024年1月15日(月)" with the year."""
        local = self.local(moment)
        text = f"{local.month}月{local.day}日({WEEKDAYS[local.weekday()]})"
        return f"{local.year}年{text}" if year else text

    @staticmethod
    def last_moment(ends: dt.datetime) -> dt.datetime:
        """The last moment of a period that ends (exclusive) at `ends`."""
        return ends - dt.timedelta(microseconds=1)

    def days(self, starts: dt.datetime, ends: dt.datetime, year: bool = True) -> str:
        """A period [starts, ends) as its first and last days: "2024年1月15日(月)〜1月21日(日)"."""
        return f"{self.day(starts, year=year)}〜{self.day(self.last_moment(ends))}"

    def period(self) -> str:
        """The whole programme: "2024年1月15日(月)〜2月25日(日)"."""
        return self.days(self.starts, self.ends) if self.rounds else ""

    def round_period(self, r: RoundDates) -> str:
        return self.days(r.starts, r.ends)

    # --- sentences -------------------------------------------------------------------------

    @property
    def per_round(self) -> str:
        """How often the store limit renews, as the poster says it: "各回(1週間)" or "各回"."""
        return "各回(1週間)" if self.weekly else "各回"

    @property
    def limit_span(self) -> str:
        """The span a store limit counts over: "1週間" or "各回の期間"."""
        return "1週間" if self.weekly else "各回の期間"

    @property
    def every_round(self) -> str:
        """How often coupons are handed out: "毎週" or "回ごとに"."""
        return "毎週" if self.weekly else "回ごとに"

    @property
    def this_round(self) -> str:
        """The current round, as a resident says it: "今週" or "今回"."""
        return "今週" if self.weekly else "今回"

    def bill_rule(self) -> str:
        """ "1枚ご利用はお会計1,000円以上、2枚同時は2,000円以上"."""
        text = f"1枚ご利用はお会計{yen(self.min_bill_one)}以上"
        if self.store_limit >= 2:
            text += f"、2枚同時は{yen(self.min_bill_two)}以上"
        return text

    def store_limit_rule(self) -> str:
        """ "同じお店で使えるのは、1週間に2枚までです。"."""
        return f"同じお店で使えるのは、{self.limit_span}に{self.store_limit}枚までです。"

    def store_limit_refusal(self, left: int) -> str:
        """Why a use at this store is refused, and how many coupons are left there."""
        return (
            f"1つのお店で{self.limit_span}に使える割引券は{self.store_limit}枚までです。"
            f"このお店で{self.this_round}使えるのは、あと{left}枚です。"
        )

    @property
    def fee_sentence(self) -> str:
        return FEE_SENTENCE


def of(campaign: Campaign, settings: Settings | Mapping | None = None) -> Rules:
    return Rules(
        campaign_name=campaign.name,
        timezone=campaign.timezone,
        total_funds=campaign.total_funds,
        face=campaign.coupon_face,
        per_pack=campaign.coupons_per_pack,
        store_limit=campaign.store_limit_per_round,
        min_bill_one=campaign.min_bill_one,
        min_bill_two=campaign.min_bill_two,
        void_window_minutes=campaign.void_window_minutes,
        rounds=tuple(RoundDates(r.number, r.starts, r.ends) for r in campaign.rounds),
        settlement_cutoffs=settlement_cutoffs(settings),
    )


def zone_of(r: Rules | None) -> ZoneInfo:
    """The campaign's time zone; before a campaign exists, Asia/Tokyo (kariya.clock.JST)."""
    return r.zone if r is not None else JST


def latest_campaign(db: Session) -> Campaign | None:
    """The campaign in force: the latest one (kariya.campaign.definition.latest)."""
    return db.scalar(select(Campaign).order_by(Campaign.id.desc()).limit(1))


def current(db: Session, settings: Settings | Mapping | None = None) -> Rules | None:
    """The latest campaign's rules; None before a campaign exists."""
    campaign = latest_campaign(db)
    return None if campaign is None else of(campaign, settings)
