"""The fraud scan (DESIGN §5.3 `kariya fraud scan`, the beat task `kariya.fraud.scan`): every rule
of kariya.fraud.rules over the uses up to the clock's now, each finding applied to the cases:

- an open case (flagged or under review) of the same rule and subject gets the new evidence and
  the latest figures (its history says so): one case per subject and rule, never one per use;
- otherwise a new case is opened flagged, unless every mark of the finding was already in a
  closed case of that rule and subject (a cleared store is not flagged again for the same
  round, day or uses; a later round, day or use opens a new case).

One transaction, serialised by an advisory lock, so two scans at once (the beat and the CLI)
open nothing twice; the partial unique index of open cases is the backstop. PostgreSQL only:
the rules are its SQL (window frames, medians, time zones); on SQLite (the demo) the scan says
so and does nothing.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from kariya.campaign.rules import latest_campaign
from kariya.fraud import rules as fraud_rules
from kariya.fraud.findings import Context, Finding
from kariya.fraud.models import FraudCase, FraudEvidence
from kariya.orm import insert_or_skip
from kariya.settings import Settings
from workflows import fraud as fraud_wf
from workflows.binding import Move, record

log = logging.getLogger(__name__)

ACTOR = "system:fraud-scan"
LOCK_KEY = 0x6B61726966726175  # "karifrau": the scan's advisory lock


@dataclasses.dataclass
class ScanResult:
    opened: list[FraudCase] = dataclasses.field(default_factory=list)
    extended: list[FraudCase] = dataclasses.field(default_factory=list)
    findings: dict[str, int] = dataclasses.field(default_factory=dict)
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)
    skipped: str = ""

    @property
    def total_seconds(self) -> float:
        return round(sum(self.seconds.values()), 3)


def supported(db: Session) -> bool:
    return db.get_bind().dialect.name == "postgresql"


def run(
    db: Session,
    clock,
    settings: Settings,
    *,
    only: list[str] | None = None,
    actor: str = ACTOR,
) -> ScanResult:
    """Scan with every rule (or the rules named in `only`) and apply what they find."""
    result = ScanResult()
    campaign = latest_campaign(db)
    if campaign is None:
        result.skipped = "キャンペーンが登録されていません。"
        return result
    if not supported(db):
        result.skipped = (
            "不正検知の走査には PostgreSQL が必要です(このデータベースでは行いません)。"
        )
        return result
    db.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
    # The rules' queries are short analytic ones: compiling them (JIT) costs more than it saves.
    db.execute(text("SET LOCAL jit = off"))
    now = clock.now()
    ctx = Context(db, campaign, now, settings.fraud, list(campaign.rounds))
    for rule in fraud_rules.RULES:
        if only and rule.code not in only:
            continue
        started = time.perf_counter()
        findings = rule.find(ctx)
        result.seconds[rule.code] = round(time.perf_counter() - started, 3)
        result.findings[rule.code] = len(findings)
        for finding in findings:
            case, opened = apply(db, campaign.id, rule.code, finding, now=now, actor=actor)
            if case is not None:
                (result.opened if opened else result.extended).append(case)
    db.flush()
    if result.opened or result.extended:
        log.info(
            "fraud scan",
            extra={"opened": [c.id for c in result.opened], "extended": len(result.extended)},
        )
    return result


def _subject(finding: Finding) -> str:
    return f"{finding.subject}:{finding.subject_id}"


def apply(
    db: Session, campaign_id: int, rule: str, finding: Finding, *, now, actor: str
) -> tuple[FraudCase | None, bool]:
    """Apply one finding: (the case it went to or opened, whether it was opened); (None, False)
    when it brought nothing new."""
    subject = _subject(finding)
    cases = list(
        db.scalars(
            select(FraudCase)
            .where(FraudCase.rule == rule, FraudCase.subject == subject)
            .order_by(FraudCase.id)
        )
    )
    keys = finding.keys()
    open_case = next((c for c in cases if c.state in fraud_wf.OPEN), None)
    if open_case is not None:
        added = _add_evidence(db, open_case, keys, now)
        if not added:
            return None, False
        _refresh_figures(open_case, rule, finding, now)
        if finding.marks.intersection(added):  # the history tells what was found, not each
            record(  # use that merely adds to a figure (a round's takings grow all week)
                db,
                fraud_wf.MACHINE,
                [Move(open_case.id, "evidence", open_case.state, open_case.state, _added(added))],
                actor=actor,
                now=now,
            )
        return open_case, False
    if cases:
        seen = set(
            db.scalars(
                select(FraudEvidence.key).where(
                    FraudEvidence.case_id.in_([c.id for c in cases]),
                    FraudEvidence.key.in_(list(finding.marks)),
                )
            )
        )
        if finding.marks <= seen:
            return None, False
    case = FraudCase(
        campaign_id=campaign_id,
        rule=rule,
        subject=subject,
        store_id=finding.subject_id if finding.subject == "store" else None,
        person_id=finding.subject_id if finding.subject == "person" else None,
        state=fraud_wf.S.flagged,
        opened_at=now,
    )
    _refresh_figures(case, rule, finding, now)
    db.add(case)
    db.flush()
    _add_evidence(db, case, keys, now)
    record(
        db,
        fraud_wf.MACHINE,
        [Move(case.id, "flag", case.state, case.state, case.summary)],
        actor=actor,
        now=now,
    )
    return case, True


def _refresh_figures(case: FraudCase, rule: str, finding: Finding, now) -> None:
    case.figures = json.dumps(finding.figures, ensure_ascii=False, separators=(",", ":"))
    case.summary = fraud_rules.describe(rule, finding.figures)[:500]
    case.updated_at = now


def _add_evidence(db: Session, case: FraudCase, keys: dict[str, dict], now) -> list[str]:
    """Insert the evidence rows the case lacks; returns their keys."""
    if not keys:
        return []
    table = FraudEvidence.__table__
    rows = [
        {
            "case_id": case.id,
            "key": key,
            "redemption_id": columns.get("redemption_id"),
            "person_id": columns.get("person_id"),
            "bank_change_id": columns.get("bank_change_id"),
            "added_at": now,
        }
        for key, columns in sorted(keys.items())
    ]
    added = db.scalars(
        insert_or_skip(db, table, on=["case_id", "key"]).values(rows).returning(table.c.key)
    ).all()
    return list(added)


def _added(keys: list[str]) -> str:
    uses = sum(1 for k in keys if k.startswith("use:"))
    persons = sum(1 for k in keys if k.startswith("person:"))
    parts = [f"利用{uses}件"] if uses else []
    parts += [f"市民{persons}人"] if persons else []
    return "新たな証拠: " + ("・".join(parts) if parts else f"{len(keys)}件")
