"""The status reports and the final report (C-3): their tables from the figures of
kariya.reports.figures and their words, written as .xlsx and PDF by kariya.reports.printing.

After each round settles the beat builds that round's report once (`due_weekly`), keeps it
(status_report) and tells the city's contacts (setting kariya.reports.city_contacts) through the
mail outbox, with the main figures and the page to download it from; `kariya report weekly
--round K` and `kariya report final` build one now. The words are in
templates/print/report.toml.jinja2.
"""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from kariya.campaign import definition
from kariya.campaign.models import Campaign
from kariya.errors import Invalid, NotFound
from kariya.mail import outbox
from kariya.materials.texts import toml as print_toml
from kariya.reports import figures
from kariya.reports.models import StatusReport
from kariya.reports.printing import Report, Table, pdf, xlsx
from kariya.settings import Settings
from workflows import round as round_wf

log = logging.getLogger(__name__)


def _rate(part: int, whole: int) -> str:
    return f"{part * 100 / whole:.1f}%" if whole else "-"


def callcenter_rows(db: Session, campaign: Campaign) -> list[list] | None:
    """The call centre's figures for the reports (inquiries by category and state, escalations):
    provided by the call centre's domain; None where it keeps no records yet."""
    return None


def build(db: Session, clock, *, round_number: int | None = None) -> Report:
    campaign = definition.latest(db)
    if campaign is None:
        raise Invalid("キャンペーンが登録されていません。")
    numbers = [r.number for r in campaign.rounds]
    if round_number is not None and round_number not in numbers:
        raise NotFound(f"第{round_number}回はありません。", code="NO_SUCH_ROUND")
    data = figures.compute(db, campaign, clock.now())
    zone = ZoneInfo(campaign.timezone)
    as_of = clock.now().astimezone(zone).strftime("%Y年%m月%d日 %H:%M")
    words = print_toml(
        "report.toml.jinja2", campaign=campaign.name, round=round_number or "", as_of=as_of
    )
    title = words["weekly_title"] if round_number is not None else words["final_title"]
    intro = words["intro_weekly"] if round_number is not None else words["intro_final"]
    return Report(
        title=title,
        as_of=words["as_of"],
        intro=intro,
        words=words,
        figures=data,
        round_number=round_number,
        tables=_tables(data, words, round_number),
        callcenter=callcenter_rows(db, campaign),
    )


def _tables(data: dict, words: dict, round_number: int | None) -> list[Table]:
    s, n = words["sections"], words["notes"]
    tables = []
    if round_number is not None:
        r = next(r for r in data["rounds"] if r["round"] == round_number)
        tables.append(
            Table(
                s["round"],
                ["項目", "値"],
                [
                    ["利用期間", f"{r['starts'][:10]} 〜 {r['ends'][:10]}(終了日を含まない)"],
                    ["状態", r["state_label"]],
                    ["予定額(円)", r["planned"]],
                    ["前の回からの繰越(円)", r["rollover_in"]],
                    ["配布枠(円)", r["quota"]],
                    ["配布額(円)", r["issued_amount"]],
                    ["取得件数", r["acquisitions"]],
                    ["利用件数", r["uses"]],
                    ["利用額(円)", r["used_amount"]],
                    ["期限切れ(未使用、円)", r["expired_amount"]],
                    ["次の回への繰越(円)", r["rollover"]],
                    ["配布率(配布額/配布枠)", _rate(r["issued_amount"], r["quota"])],
                    ["利用率(利用額/配布額)", _rate(r["used_amount"], r["issued_amount"])],
                ],
                n["voids"],
            )
        )
    tables.append(
        Table(
            s["rounds"],
            [
                "回",
                "状態",
                "配布枠(円)",
                "配布額(円)",
                "取得件数",
                "利用件数",
                "利用額(円)",
                "期限切れ(円)",
                "繰越(円)",
            ],
            [
                [
                    f"第{r['round']}回",
                    r["state_label"],
                    r["quota"],
                    r["issued_amount"],
                    r["acquisitions"],
                    r["uses"],
                    r["used_amount"],
                    r["expired_amount"],
                    r["rollover"],
                ]
                for r in data["rounds"]
            ],
            n["rollover"],
        )
    )
    f, cf, p = data["funds"], data["coupon_funds"], data["payouts"]
    tables.append(
        Table(
            s["funds"],
            ["項目", "金額(円)"],
            [
                ["総額", f["total"]],
                ["利用済み", f["used"]],
                ["未使用(配布済み)", f["outstanding"]],
                ["未配布", f["unissued"]],
                ["支払額の調整", f["adjusted"]],
                ["市へ返還", f["returned"]],
                ["予算の執行率(利用済み/総額)", _rate(f["used"], f["total"])],
            ],
            n["ledger"],
        )
    )
    tables.append(
        Table(
            s["coupon_funds"],
            ["項目", "金額(円)"],
            [
                ["市からの前払い", cf["advanced"]],
                ["登録店へ支払済み", cf["paid_to_stores"]],
                ["口座の残高", cf["balance"]],
                [" うち登録店へ支払予定", cf["owed_to_stores"]],
                [" うち未使用・未配布", cf["in_play"]],
                [" うち市へ返還", cf["to_return"]],
            ],
        )
    )
    tables.append(
        Table(
            s["payouts"],
            ["項目", "金額(円)"],
            [
                ["振込済み", p["paid"]],
                ["承認済み(振込待ち)", p["approved"]],
                ["未承認(次の支払バッチへ)", p["pending"]],
            ],
        )
    )
    res, st = data["residents"], data["stores"]
    tables.append(
        Table(
            s["residents"],
            ["項目", "人数・店舗数"],
            [
                ["登録者", res["registered"]],
                ["年代・地区の回答済み", res["with_profile"]],
                ["割引券を取得した人", res["acquired"]],
                ["利用可能な店舗", st["active"]],
                ["1回以上利用された店舗", st["used_at_least_once"]],
                ["店舗の利用率", _rate(st["used_at_least_once"], st["registered"])],
            ],
        )
    )
    for key, head in (("by_area", "地区"), ("by_age_band", "年代")):
        tables.append(
            Table(
                s[key],
                [head, "登録者", "取得件数", "利用額(円)"],
                [
                    [g["label"], g["residents"], g["acquisitions"], g["used_amount"]]
                    for g in data[key]
                ],
            )
        )
    tables.append(
        Table(
            s["by_category"],
            ["業種", "利用可能な店舗", "1回以上利用", "利用件数", "利用額(円)"],
            [
                [c["category"], c["stores"], c["used_at_least_once"], c["uses"], c["used_amount"]]
                for c in data["by_category"]
            ],
        )
    )
    tables.append(
        Table(
            s["stores"],
            [
                "店舗コード",
                "店舗名",
                "業種",
                "地区",
                "状態",
                "利用件数",
                "利用額(円)",
                "振込済み(円)",
            ],
            [
                [
                    x["code"],
                    x["name"],
                    x["category"],
                    x["area"],
                    x["state_label"],
                    x["uses"],
                    x["used_amount"],
                    x["paid"],
                ]
                for x in sorted(data["store_table"], key=lambda x: (-x["used_amount"], x["code"]))
            ],
        )
    )
    ser = data["series"]
    tables.append(
        Table(
            s["days"],
            ["日付", "配布額(円)", "利用件数", "利用額(円)", "計画(円)"],
            [
                [d, ser["issued"][i], ser["uses"][i], ser["used"][i], ser["plan"][i]]
                for i, d in enumerate(ser["days"])
            ],
        )
    )
    return tables


# --- the rounds' reports, built once after each round settles ----------------------------------------


def stored(db: Session) -> list[StatusReport]:
    return list(db.scalars(select(StatusReport).order_by(StatusReport.round_number)))


def get_stored(db: Session, round_number: int) -> StatusReport:
    campaign = definition.latest(db)
    found = campaign and db.scalar(
        select(StatusReport).where(
            StatusReport.campaign_id == campaign.id, StatusReport.round_number == round_number
        )
    )
    if not found:
        raise NotFound(f"第{round_number}回の状況報告はまだありません。", code="NO_REPORT")
    return found


def due_weekly(db: Session, clock, settings: Settings) -> list[int]:
    """Build the report of every settled round that has none yet, keep it and tell the city's
    contacts (through the outbox). Catch-up and idempotent (one report per round)."""
    campaign = definition.latest(db)
    if campaign is None:
        return []
    done = {
        n
        for (n,) in db.execute(
            select(StatusReport.round_number).where(StatusReport.campaign_id == campaign.id)
        )
    }
    built = []
    for rnd in campaign.rounds:
        if rnd.state != round_wf.S.settled or rnd.number in done:
            continue
        report = build(db, clock, round_number=rnd.number)
        row = StatusReport(
            campaign_id=campaign.id,
            round_number=rnd.number,
            as_of=clock.now(),
            xlsx=xlsx(report),
            pdf=pdf(report),
            mailed_to=0,
        )
        db.add(row)
        db.flush()
        row.mailed_to = _tell_city(db, clock, settings, campaign, report)
        built.append(rnd.number)
        log.info("status report built", extra={"round": rnd.number, "mailed_to": row.mailed_to})
    return built


def _tell_city(db: Session, clock, settings: Settings, campaign: Campaign, report: Report) -> int:
    r = next(x for x in report.figures["rounds"] if x["round"] == report.round_number)
    subject, body = outbox.render(
        "status_report.txt.jinja2",
        title=report.title,
        as_of=report.as_of,
        round=r,
        funds=report.figures["funds"],
        payouts=report.figures["payouts"],
        stores=report.figures["stores"],
        url=settings.public_url.rstrip("/") + "/city/reports",
    )
    sent = 0
    for address in settings.reports.city_contacts:
        sent += outbox.queue(
            db,
            clock,
            ref=f"status-report:{campaign.id}:{report.round_number}",
            to_addr=address,
            subject=subject,
            body=body,
        )
    return sent
