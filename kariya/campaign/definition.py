"""The campaign and its rounds, as data (DESIGN.md section 2 and 5; P-2..P-4).

`parse` validates a TOML campaign file; `load` creates the campaign, or updates it while it has
not started, and posts the city's funds into the rounds' quotas in the ledger.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from kariya.campaign.models import Campaign, Round
from kariya.campaign.rules import latest_campaign
from kariya.errors import Conflict, Invalid
from kariya.ledger import postings
from kariya.ledger.models import LedgerEntry
from workflows import round as round_wf


@dataclasses.dataclass
class RoundSpec:
    starts: dt.datetime
    ends: dt.datetime
    planned: int


@dataclasses.dataclass
class CampaignSpec:
    name: str
    timezone: str
    total_funds: int
    coupon_face: int
    coupons_per_pack: int
    store_limit_per_round: int
    min_bill: tuple[int, int]
    rounds: list[RoundSpec]
    void_window_minutes: int = 10

    @property
    def pack(self) -> int:
        return self.coupon_face * self.coupons_per_pack


def _int(table: dict, key: str, problems: list[str], minimum: int = 0) -> int:
    value = table.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        problems.append(f"{key} は {minimum} 以上の整数で指定してください。")
        return 0
    return value


def parse(text: str) -> CampaignSpec:
    """Parse and validate a campaign file. Raises Invalid listing every problem (in Japanese)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise Invalid(f"キャンペーン設定ファイルを読めません: {exc}") from None
    c = data.get("campaign") or {}
    problems: list[str] = []
    name = str(c.get("name", "")).strip()
    if not name:
        problems.append("name (キャンペーン名) を指定してください。")
    tz = str(c.get("timezone", "Asia/Tokyo"))
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"timezone {tz} は正しいタイムゾーンではありません。")
    total = _int(c, "total_funds", problems, 1)
    face = _int(c, "coupon_face", problems, 1)
    per_pack = _int(c, "coupons_per_pack", problems, 1)
    limit = _int(c, "store_limit_per_round", problems, 1)
    void_window = _int({"void_window_minutes": 10} | c, "void_window_minutes", problems, 0)
    min_bill = c.get("min_bill")
    if (
        not isinstance(min_bill, list)
        or len(min_bill) != 2
        or not all(isinstance(v, int) and v > 0 for v in min_bill)
        or min_bill[0] > min_bill[1]
    ):
        problems.append(
            "min_bill は [1枚利用の最低会計額, 2枚利用の最低会計額] の昇順で指定してください。"
        )
        min_bill = [0, 0]
    pack = face * per_pack
    raw_rounds = data.get("round") or []
    if not raw_rounds:
        problems.append("[[round]] を1つ以上指定してください。")
    rounds: list[RoundSpec] = []
    default_planned = (total // max(len(raw_rounds), 1)) // pack * pack if pack else 0
    for i, r in enumerate(raw_rounds, start=1):
        starts, ends = r.get("starts"), r.get("ends")
        if (
            not isinstance(starts, dt.datetime)
            or not isinstance(ends, dt.datetime)
            or starts.tzinfo is None
            or ends.tzinfo is None
        ):
            problems.append(f"第{i}回: starts と ends は時差つきの日時で指定してください。")
            continue
        if ends <= starts:
            problems.append(f"第{i}回: 終了 {ends} が開始 {starts} より後になっていません。")
        planned = r.get("planned", default_planned)
        if not isinstance(planned, int) or isinstance(planned, bool) or planned < 0:
            problems.append(f"第{i}回: planned は0以上の整数(円)で指定してください。")
            planned = 0
        elif pack and planned % pack:
            problems.append(
                f"第{i}回: planned {planned:,}円 が1人分({pack:,}円)の倍数ではありません。"
            )
        rounds.append(RoundSpec(starts.astimezone(dt.UTC), ends.astimezone(dt.UTC), planned))
    for i, (a, b) in enumerate(zip(rounds, rounds[1:], strict=False), start=1):
        if b.starts != a.ends:
            problems.append(
                f"第{i}回の終了と第{i + 1}回の開始が一致していません(期間は連続させてください)。"
            )
    if total and sum(r.planned for r in rounds) > total:
        problems.append(
            f"各回の予定額の合計 {sum(r.planned for r in rounds):,}円 が総額 {total:,}円 を超えています。"
        )
    if problems:
        raise Invalid("キャンペーン設定に誤りがあります。", details=problems)
    return CampaignSpec(
        name, tz, total, face, per_pack, limit, (min_bill[0], min_bill[1]), rounds, void_window
    )


def load(db: Session, clock, spec: CampaignSpec, actor: str) -> Campaign:
    """Create the campaign named in `spec`, or update it if it has not started yet."""
    now = clock.now()
    campaign = db.scalar(select(Campaign).where(Campaign.name == spec.name).with_for_update())
    if campaign is None:
        campaign = Campaign(name=spec.name, created_at=now, issuance_halted=False)
        db.add(campaign)
    elif campaign.rounds and (
        campaign.rounds[0].starts <= now
        or any(r.state != round_wf.S.scheduled for r in campaign.rounds)
    ):
        raise Conflict("開始済みのキャンペーンは変更できません。")
    campaign.timezone = spec.timezone
    campaign.total_funds = spec.total_funds
    campaign.coupon_face = spec.coupon_face
    campaign.coupons_per_pack = spec.coupons_per_pack
    campaign.store_limit_per_round = spec.store_limit_per_round
    campaign.min_bill_one, campaign.min_bill_two = spec.min_bill
    campaign.void_window_minutes = spec.void_window_minutes
    db.flush()

    # Bring every allocation account to its new target, balanced against the city's funds.
    old_rounds = list(campaign.rounds)
    targets = {
        postings.unallocated(campaign.id): spec.total_funds - sum(r.planned for r in spec.rounds)
    }
    targets.update({postings.quota(r.id): 0 for r in old_rounds})
    if old_rounds:
        db.execute(delete(Round).where(Round.campaign_id == campaign.id))
        db.expire(campaign, ["rounds"])
    for number, r in enumerate(spec.rounds, start=1):
        row = Round(
            campaign_id=campaign.id,
            number=number,
            starts=r.starts,
            ends=r.ends,
            planned=r.planned,
            rollover_in=0,
            quota=r.planned,
            issued=0,
            state=round_wf.S.scheduled,
        )
        db.add(row)
        db.flush()
        targets[postings.quota(row.id)] = r.planned
    current = postings.balances(db, campaign.id)
    moves = [
        (postings.FUNDS, account, target - current.get(account, 0))
        for account, target in targets.items()
    ]
    revision = db.scalar(
        select(func.count()).where(
            LedgerEntry.campaign_id == campaign.id, LedgerEntry.kind == "fund"
        )
    )
    postings.post(
        db,
        campaign_id=campaign.id,
        kind="fund",
        ref=f"fund:campaign:{campaign.id}:{revision + 1}",
        moves=moves,
        now=now,
        actor=actor,
        memo="キャンペーン資金の各回への配分",
    )
    db.flush()
    db.refresh(campaign)
    return campaign


latest = latest_campaign  # the campaign in force


def to_toml(campaign: Campaign) -> str:
    """The campaign as a campaign file (the inverse of `parse`), for review and editing."""
    tz = ZoneInfo(campaign.timezone)
    lines = [
        "[campaign]",
        f'name = "{campaign.name}"',
        f'timezone = "{campaign.timezone}"',
        f"total_funds = {campaign.total_funds}",
        f"coupon_face = {campaign.coupon_face}",
        f"coupons_per_pack = {campaign.coupons_per_pack}",
        f"store_limit_per_round = {campaign.store_limit_per_round}",
        f"min_bill = [{campaign.min_bill_one}, {campaign.min_bill_two}]",
        f"void_window_minutes = {campaign.void_window_minutes}",
    ]
    for r in campaign.rounds:
        lines += [
            "",
            "[[round]]",
            f"starts = {r.starts.astimezone(tz).isoformat()}",
            f"ends = {r.ends.astimezone(tz).isoformat()}",
            f"planned = {r.planned}",
        ]
    return "\n".join(lines) + "\n"
