"""What the materials say about the campaign's rules: every number read from the campaign and
the settings (the coupon face, the per-store limit, the minimum bills, the periods)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from kariya.campaign import definition
from kariya.errors import Conflict
from kariya.models import Campaign
from kariya.payouts import batches, settlement

WEEKDAYS = "月火水木金土日"


@dataclasses.dataclass(frozen=True)
class Rules:
    campaign_name: str
    face: int
    per_pack: int
    pack: int
    store_limit: int
    min_bill_one: int
    min_bill_two: int
    period: str  # "2024年1月15日(月)〜2月25日(日)"
    rounds: list[tuple[int, str, str]]  # (number, first day, last day)
    settlement_periods: list[str]
    settlements_per_month: int
    per_round: str  # "各回(1週間)" when every round is a week, else "各回"
    callcenter_phone: str
    callcenter_hours: str
    public_url: str


def day_text(value: dt.datetime, tz: ZoneInfo, year: bool = False) -> str:
    local = value.astimezone(tz)
    text = f"{local.month}月{local.day}日({WEEKDAYS[local.weekday()]})"
    return f"{local.year}年{text}" if year else text


def last_day(ends: dt.datetime) -> dt.datetime:
    """The last moment of a period that ends (exclusive) at `ends`."""
    return ends - dt.timedelta(microseconds=1)


def yen(value: int) -> str:
    return f"{value:,}円"


def rules(campaign: Campaign, settings: dict) -> Rules:
    tz = ZoneInfo(campaign.timezone)
    rounds = list(campaign.rounds)
    if not rounds:
        raise Conflict("キャンペーンに回が登録されていないため、掲示物を作成できません。")
    first, last = rounds[0].starts, rounds[-1].ends
    cutoffs = batches.cutoffs_of(settings)  # the same cadence the payout batches follow
    periods = settlement.periods_between(first, last_day(last), cutoffs)
    settlement_periods = []
    for p in periods:
        since, until = day_text(max(p.starts, first), tz), day_text(last_day(min(p.ends, last)), tz)
        settlement_periods.append(
            f"{since}のご利用分" if since == until else f"{since}〜{until}のご利用分"
        )
    # How many periods a whole month has (31 days: every cut-off day counts).
    month_start = dt.datetime(2024, 1, 1, tzinfo=tz)  # any 31-day month
    month_end = dt.datetime(2024, 1, 31, 12, tzinfo=tz)
    per_month = len(settlement.periods_between(month_start, month_end, cutoffs))
    weekly = all(r.ends - r.starts == dt.timedelta(weeks=1) for r in rounds)
    return Rules(
        campaign_name=campaign.name,
        face=campaign.coupon_face,
        per_pack=campaign.coupons_per_pack,
        pack=campaign.pack_amount,
        store_limit=campaign.store_limit_per_round,
        min_bill_one=campaign.min_bill_one,
        min_bill_two=campaign.min_bill_two,
        period=f"{day_text(first, tz, year=True)}〜{day_text(last_day(last), tz)}",
        rounds=[
            (r.number, day_text(r.starts, tz, year=True), day_text(last_day(r.ends), tz))
            for r in rounds
        ],
        settlement_periods=settlement_periods,
        settlements_per_month=per_month,
        per_round="各回(1週間)" if weekly else "各回",
        callcenter_phone=settings["kariya.callcenter.phone"],
        callcenter_hours=settings["kariya.callcenter.hours"],
        public_url=settings["kariya.public_url"],
    )


def current_rules(db: Session, settings: dict) -> Rules:
    campaign = definition.latest(db)
    if campaign is None:
        raise Conflict(
            "キャンペーンが登録されていないため、掲示物を作成できません。", code="NO_CAMPAIGN"
        )
    return rules(campaign, settings)


def bill_rule(r: Rules) -> str:
    text = f"1枚ご利用はお会計{yen(r.min_bill_one)}以上"
    if r.store_limit >= 2:
        text += f"、2枚同時は{yen(r.min_bill_two)}以上"
    return text
