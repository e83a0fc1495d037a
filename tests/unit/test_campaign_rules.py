"""One rules object for the campaign: its numbers and the sentences that state them, read from
the campaign (nothing fixed in code), in the campaign's own time zone."""

import datetime as dt

from kariya.campaign import definition, rules
from kariya.models import Campaign, Round
from tests.helpers import campaign_toml


def campaign_from(toml: str) -> Campaign:
    spec = definition.parse(toml)
    campaign = Campaign(
        name=spec.name,
        timezone=spec.timezone,
        total_funds=spec.total_funds,
        coupon_face=spec.coupon_face,
        coupons_per_pack=spec.coupons_per_pack,
        store_limit_per_round=spec.store_limit_per_round,
        min_bill_one=spec.min_bill[0],
        min_bill_two=spec.min_bill[1],
        void_window_minutes=spec.void_window_minutes,
    )
    campaign.rounds = [
        Round(number=n, starts=r.starts, ends=r.ends, planned=r.planned)
        for n, r in enumerate(spec.rounds, start=1)
    ]
    return campaign


def test_numbers_and_sentences_come_from_the_campaign():
    toml = (
        campaign_toml()
        .replace("coupon_face = 500", "coupon_face = 700")
        .replace("min_bill = [1000, 2000]", "min_bill = [1500, 3200]")
        .replace("store_limit_per_round = 2", "store_limit_per_round = 3")
    )
    r = rules.of(campaign_from(toml), {"kariya.settlement.cutoffs": "10,20"})
    assert (r.face, r.per_pack, r.pack, r.store_limit) == (700, 4, 2800, 3)
    assert (r.min_bill_one, r.min_bill_two, r.void_window_minutes) == (1500, 3200, 10)
    assert r.settlement_cutoffs == (10, 20)
    assert r.bill_rule() == "1枚ご利用はお会計1,500円以上、2枚同時は3,200円以上"
    assert r.store_limit_rule() == "同じお店で使えるのは、1週間に3枚までです。"
    assert r.store_limit_refusal(1) == (
        "1つのお店で1週間に使える割引券は3枚までです。このお店で今週使えるのは、あと1枚です。"
    )
    assert r.period() == "2024年1月15日(月)〜2月25日(日)"
    assert r.round_period(r.rounds[0]) == "2024年1月15日(月)〜1月21日(日)"
    assert "振込手数料は事務局が負担します" in r.fee_sentence


def test_rounds_that_are_not_weeks_are_not_called_weeks():
    toml = campaign_toml(rounds=2).replace("2024-01-29T00:00:00+09:00", "2024-02-02T00:00:00+09:00")
    r = rules.of(campaign_from(toml))
    assert not r.weekly
    assert (r.per_round, r.limit_span, r.this_round, r.every_round) == (
        "各回",
        "各回の期間",
        "今回",
        "回ごとに",
    )
    assert "1週間" not in r.store_limit_refusal(0) and "今週" not in r.store_limit_refusal(0)


def test_days_are_those_of_the_campaigns_time_zone():
    # 2024-01-15 00:00 in Tokyo is still the 14th in Los Angeles.
    toml = campaign_toml(rounds=1).replace('"Asia/Tokyo"', '"America/Los_Angeles"')
    r = rules.of(campaign_from(toml))
    assert r.zone.key == "America/Los_Angeles"
    assert r.day(r.starts, year=True) == "2024年1月14日(日)"
    assert r.local(dt.datetime(2024, 1, 15, tzinfo=dt.UTC)).hour == 16
    assert rules.zone_of(None).key == "Asia/Tokyo"  # before a campaign exists
