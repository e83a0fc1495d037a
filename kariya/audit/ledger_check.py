"""The ledger check (DESIGN.md section 2, F-5, F-6; `kariya ledger check` and the secretariat's
ledger page): the money invariants of a campaign verified against the ledger's postings and the
records they summarise (coupons, rounds, acquisitions, payout batches)."""

from __future__ import annotations

import dataclasses

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kariya.campaign.models import Campaign, Round
from kariya.coupons.models import Acquisition, Coupon
from kariya.ledger.models import LedgerEntry, LedgerPosting
from kariya.ledger.postings import (
    ADJUSTED,
    FUNDS,
    PAID,
    PAYABLE,
    RETURNED,
    USED,
    balances,
    outstanding,
    quota,
    rollover,
    unallocated,
)
from kariya.payouts import batches, reconciliation
from workflows import coupon as coupon_wf
from workflows import round as round_wf


@dataclasses.dataclass
class Report:
    campaign: str
    figures: dict[str, int]
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems

    def text(self) -> str:
        lines = [f"Ledger check: {self.campaign}"]
        lines += [f"  {name:<14} {value:>14,} yen" for name, value in self.figures.items()]
        if self.ok:
            lines.append(
                "OK: T = used + adjusted + outstanding + unissued + returned; no account negative; ledger agrees with coupons and rounds."
            )
        else:
            lines.append(f"FAILED: {len(self.problems)} problem(s)")
            lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


def check(db: Session, campaign: Campaign) -> Report:
    """Verify the money invariants of one campaign against the ledger and the records."""
    problems: list[str] = []
    bal = balances(db, campaign.id)
    rounds = list(campaign.rounds)

    unbalanced = db.execute(
        select(LedgerEntry.ref, func.sum(LedgerPosting.amount))
        .join(LedgerPosting)
        .where(LedgerEntry.campaign_id == campaign.id)
        .group_by(LedgerEntry.id, LedgerEntry.ref)
        .having(func.sum(LedgerPosting.amount) != 0)
    ).all()
    problems += [f"entry {ref} does not sum to zero ({total:+,})" for ref, total in unbalanced]
    problems += [
        f"account {a} is negative ({v:,})"
        for a, v in sorted(bal.items())
        if v < 0 and a not in (FUNDS, ADJUSTED)
    ]
    # F-5: what the ledger says is pending, payable and paid must match the uses and the batches.
    problems += reconciliation.ledger_problems(db, campaign, bal)

    pending, payable, paid = bal.get(USED, 0), bal.get(PAYABLE, 0), bal.get(PAID, 0)
    adjusted = batches.approved_adjustments(db, campaign)
    # What stores are owed (pending + payable + paid) is their uses plus the adjustments.
    used = pending + bal.get(ADJUSTED, 0) + payable + paid - adjusted
    out = sum(bal.get(outstanding(r.id), 0) for r in rounds)
    unissued = bal.get(unallocated(campaign.id), 0) + sum(
        bal.get(quota(r.id), 0) + bal.get(rollover(r.id), 0) for r in rounds
    )
    returned = bal.get(RETURNED, 0)
    funded = -bal.get(FUNDS, 0)
    total = campaign.total_funds
    figures = {
        "T": total,
        "funded": funded,
        "used": used,
        "adjusted": adjusted,
        "pending": pending,
        "payable": payable,
        "paid": paid,
        "outstanding": out,
        "unissued": unissued,
        "returned": returned,
    }
    if funded != total:
        problems.append(f"city funds posted {funded:,} differ from T {total:,}")
    if used + adjusted + out + unissued + returned != total:
        problems.append(
            f"T {total:,} != used {used:,} + adjusted {adjusted:,} + outstanding {out:,}"
            f" + unissued {unissued:,} + returned {returned:,}"
        )

    # The ledger must agree with the records it summarises.
    face = campaign.coupon_face
    counts = {
        (rid, state): n
        for rid, state, n in db.execute(
            select(Coupon.round_id, Coupon.state, func.count())
            .join(Round, Round.id == Coupon.round_id)
            .where(Round.campaign_id == campaign.id)
            .group_by(Coupon.round_id, Coupon.state)
        )
    }
    acquired = dict(
        db.execute(
            select(Acquisition.round_id, func.sum(Acquisition.amount))
            .join(Round, Round.id == Acquisition.round_id)
            .where(Round.campaign_id == campaign.id)
            .group_by(Acquisition.round_id)
        ).all()
    )
    used_records = 0
    for r in rounds:
        issued_value = face * counts.get((r.id, coupon_wf.S.issued), 0)
        used_records += face * counts.get((r.id, coupon_wf.S.used), 0)
        if bal.get(outstanding(r.id), 0) != issued_value:
            problems.append(
                f"round {r.number}: outstanding {bal.get(outstanding(r.id), 0):,} != unused coupons {issued_value:,}"
            )
        if int(acquired.get(r.id) or 0) != r.issued:
            problems.append(
                f"round {r.number}: issued {r.issued:,} != acquisitions {int(acquired.get(r.id) or 0):,}"
            )
        if r.issued > r.quota:
            problems.append(f"round {r.number}: oversold, issued {r.issued:,} > quota {r.quota:,}")
        coupons_value = face * sum(n for (rid, _s), n in counts.items() if rid == r.id)
        if coupons_value != r.issued:
            problems.append(f"round {r.number}: coupons {coupons_value:,} != issued {r.issued:,}")
        expected_quota = (
            0 if r.state in (round_wf.S.closed, round_wf.S.settled) else r.quota - r.issued
        )
        if bal.get(quota(r.id), 0) != expected_quota:
            problems.append(
                f"round {r.number}: unissued quota {bal.get(quota(r.id), 0):,} != {expected_quota:,}"
            )
        if r.state == round_wf.S.settled and bal.get(rollover(r.id), 0) != 0:
            problems.append(
                f"round {r.number}: settled but rollover {bal.get(rollover(r.id), 0):,} left"
            )
    if used_records != used:
        problems.append(f"used {used:,} != used coupons {used_records:,}")
    return Report(campaign=campaign.name, figures=figures, problems=problems)
