"""The city's figures (C-1): every number of the dashboard, the status reports and the JSON of
DESIGN §5.2, computed from the records and the ledger by set-based queries.

Read only, and never inside a resident's transaction: the beat (and `kariya tick`, and a person
asking for it) runs `compute` and keeps the result as the dashboard's snapshot, so the rush's
acquisitions and uses never wait on a counter. Money comes from the ledger's balances through
`kariya.audit.ledger_check.summary`, the very figures `kariya ledger check` prints; counts and
amounts per round, area, age band, category and store come from the rows. Voided uses never
count. Times are bucketed by the hour in the campaign's time zone by the database.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import distinct, func, literal_column, select
from sqlalchemy.orm import Session

from kariya.audit.ledger_check import summary
from kariya.campaign.models import Campaign
from kariya.coupons.models import Acquisition, Coupon
from kariya.fraud import reading as fraud_reading
from kariya.ledger import postings
from kariya.ledger.models import LedgerEntry, LedgerPosting
from kariya.payouts.models import PayoutLine
from kariya.redemptions.models import Redemption
from kariya.residents.models import Person
from kariya.residents.options import AGE_BANDS, AREAS
from kariya.stores.importer.columns import CATEGORIES
from kariya.stores.models import Store
from workflows import coupon as coupon_wf
from workflows import redemption as redemption_wf
from workflows import round as round_wf
from workflows import store as store_wf
from workflows.binding import label

UNKNOWN_LABEL = "未回答"
NO_CATEGORY = "(業種なし)"
HOUR_FORMAT = "%Y-%m-%d %H"
OPENING_HOURS = 24  # the hours after a round opens shown as its opening


def local_text(db: Session, column, zone: ZoneInfo, at: dt.datetime, *, seconds: bool = False):
    """`column` (a UTC time) as text in `zone`, "YYYY-MM-DD HH" (or to the second), computed
    by the database. SQLite (the demo) has no time zones: it adds the zone's offset at `at`."""
    if db.get_bind().dialect.name == "postgresql":
        pattern = "YYYY-MM-DD HH24:MI:SS" if seconds else "YYYY-MM-DD HH24"
        return func.to_char(func.timezone(zone.key, column), pattern)
    minutes = int(zone.utcoffset(at.replace(tzinfo=None)).total_seconds() // 60)
    pattern = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H"
    return func.strftime(pattern, column, f"{minutes:+d} minutes")


def local_hour(db: Session, column, zone: ZoneInfo, at: dt.datetime):
    return local_text(db, column, zone, at)


def _hour_key(moment: dt.datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime(HOUR_FORMAT)


def _groups(counts: dict, labels: dict[str | None, str]) -> list[tuple[str | None, str]]:
    """Every configured code in its order, then any other value found (None: not answered)."""
    found = [(code, text) for code, text in labels.items()]
    extra = sorted((k for k in counts if k not in labels and k is not None), key=str)
    found += [(k, str(k)) for k in extra]
    if None in counts:
        found.append((None, UNKNOWN_LABEL))
    return found


def compute(db: Session, campaign: Campaign, now: dt.datetime) -> dict:
    """Every figure of `campaign` as of `now`, as plain JSON-ready data."""
    zone = ZoneInfo(campaign.timezone)
    rounds = list(campaign.rounds)
    ids = [r.id for r in rounds]
    face = campaign.coupon_face
    confirmed = (Redemption.state == redemption_wf.S.confirmed, Redemption.round_id.in_(ids))
    money = summary(db, campaign)

    # --- rounds -------------------------------------------------------------------------------
    acquisitions = dict(
        db.execute(
            select(Acquisition.round_id, func.count())
            .where(Acquisition.round_id.in_(ids))
            .group_by(Acquisition.round_id)
        ).all()
    )
    coupons = {
        (rid, state): n
        for rid, state, n in db.execute(
            select(Coupon.round_id, Coupon.state, func.count())
            .where(Coupon.round_id.in_(ids))
            .group_by(Coupon.round_id, Coupon.state)
        )
    }
    uses = {
        rid: (n, int(amount or 0))
        for rid, n, amount in db.execute(
            select(Redemption.round_id, func.count(), func.sum(Redemption.amount))
            .where(*confirmed)
            .group_by(Redemption.round_id)
        )
    }
    # R_k as posted when round k closed: its unused coupons and its unissued quota.
    rolled = dict(
        db.execute(
            select(LedgerPosting.account, func.sum(LedgerPosting.amount))
            .join(LedgerEntry, LedgerEntry.id == LedgerPosting.entry_id)
            .where(
                LedgerEntry.campaign_id == campaign.id,
                LedgerPosting.account.in_([postings.rollover(i) for i in ids]),
                LedgerPosting.amount > 0,
            )
            .group_by(LedgerPosting.account)
        ).all()
    )
    round_rows = []
    for r in rounds:
        n_uses, used_amount = uses.get(r.id, (0, 0))
        expired = face * coupons.get((r.id, coupon_wf.S.expired), 0)
        rollover = int(rolled.get(postings.rollover(r.id)) or 0)
        round_rows.append(
            {
                "round": r.number,
                "state": r.state,
                "state_label": label(round_wf.MACHINE, r.state),
                "starts": r.starts.astimezone(zone).isoformat(),
                "ends": r.ends.astimezone(zone).isoformat(),
                "planned": r.planned,
                "rollover_in": r.rollover_in,
                "quota": r.quota,
                "issued_amount": r.issued,
                "acquisitions": int(acquisitions.get(r.id, 0)),
                "used_amount": used_amount,
                "uses": n_uses,
                "outstanding_amount": face * coupons.get((r.id, coupon_wf.S.issued), 0),
                "expired_amount": expired,
                "rollover": rollover,
                "rollover_unused": expired if rollover else 0,
                "rollover_unissued": rollover - expired if rollover else 0,
            }
        )

    # --- residents, by area and by age band -----------------------------------------------------
    registered, with_profile = db.execute(
        select(func.count(), func.count(Person.profile_at)).select_from(Person)
    ).one()
    acquired = db.scalar(
        select(func.count(distinct(Acquisition.person_id))).where(Acquisition.round_id.in_(ids))
    )

    def breakdown(column, labels: dict[str, str], key: str) -> list[dict]:
        residents = dict(db.execute(select(column, func.count()).group_by(column)).all())
        acquired_by = dict(
            db.execute(
                select(column, func.count())
                .select_from(Acquisition)
                .join(Person, Person.id == Acquisition.person_id)
                .where(Acquisition.round_id.in_(ids))
                .group_by(column)
            ).all()
        )
        used_by = dict(
            db.execute(
                select(column, func.sum(Redemption.amount))
                .select_from(Redemption)
                .join(Person, Person.id == Redemption.person_id)
                .where(*confirmed)
                .group_by(column)
            ).all()
        )
        every = {**residents, **acquired_by, **used_by}
        return [
            {
                key: code,
                "label": text,
                "residents": int(residents.get(code, 0)),
                "acquisitions": int(acquired_by.get(code, 0)),
                "used_amount": int(used_by.get(code) or 0),
            }
            for code, text in _groups(every, labels)
        ]

    by_area = breakdown(Person.area, AREAS, "area")
    by_age_band = breakdown(Person.age_band, AGE_BANDS, "age_band")

    # --- stores -----------------------------------------------------------------------------------
    use_totals = (
        select(
            Redemption.store_id.label("store_id"),
            func.count().label("uses"),
            func.sum(Redemption.coupons).label("coupons"),
            func.sum(Redemption.amount).label("amount"),
            func.max(Redemption.used_at).label("last_used"),
        )
        .where(*confirmed)
        .group_by(Redemption.store_id)
        .subquery()
    )
    paid_by_store = dict(
        db.execute(
            select(PayoutLine.store_id, func.sum(PayoutLine.amount))
            .where(PayoutLine.status == "transferred")
            .group_by(PayoutLine.store_id)
        ).all()
    )
    store_rows = []
    for row in db.execute(
        select(
            Store.code,
            Store.name,
            Store.category,
            Store.area,
            Store.state,
            func.coalesce(use_totals.c.uses, 0),
            func.coalesce(use_totals.c.coupons, 0),
            func.coalesce(use_totals.c.amount, 0),
            use_totals.c.last_used,
            Store.id,
        )
        .outerjoin(use_totals, use_totals.c.store_id == Store.id)
        .order_by(Store.code)
    ):
        code, name, category, area, state, n, n_coupons, amount, last_used, store_id = row
        store_rows.append(
            {
                "code": code,
                "name": name,
                "category": category or NO_CATEGORY,
                "area": AREAS.get(area, area or ""),
                "state": state,
                "state_label": label(store_wf.MACHINE, state),
                "uses": int(n),
                "coupons": int(n_coupons),
                "used_amount": int(amount),
                "paid": int(paid_by_store.get(store_id) or 0),
                "last_used": last_used.astimezone(zone).isoformat() if last_used else None,
            }
        )
    active = sum(1 for s in store_rows if s["state"] == store_wf.S.active)
    used_once = sum(1 for s in store_rows if s["uses"])
    per_category: dict[str, dict] = {}
    for s in store_rows:
        entry = per_category.setdefault(
            s["category"], {"stores": 0, "used_at_least_once": 0, "uses": 0, "used_amount": 0}
        )
        entry["stores"] += s["state"] == store_wf.S.active
        entry["used_at_least_once"] += bool(s["uses"])
        entry["uses"] += s["uses"]
        entry["used_amount"] += s["used_amount"]
    categories = list(CATEGORIES) + sorted(c for c in per_category if c not in CATEGORIES)
    by_category = [
        {
            "category": c,
            **per_category.get(
                c, {"stores": 0, "used_at_least_once": 0, "uses": 0, "used_amount": 0}
            ),
        }
        for c in categories
    ]

    # --- money ------------------------------------------------------------------------------------
    owed = money["used"] + money["adjusted"]
    payouts = {
        "paid": money["paid"],
        "approved": money["payable"],
        "pending": owed - money["paid"] - money["payable"],
    }
    funds = {
        "total": money["T"],
        "used": money["used"],
        "outstanding": money["outstanding"],
        "unissued": money["unissued"],
        "adjusted": money["adjusted"],
        "returned": money["returned"],
    }
    # F-6: the coupon funds account the city advanced: paid out to stores, owed to them, still
    # in play (coupons outstanding, quota unissued), and the remainder to return to the city.
    coupon_funds = {
        "advanced": money["funded"],
        "paid_to_stores": money["paid"],
        "balance": money["funded"] - money["paid"],
        "owed_to_stores": owed - money["paid"],
        "in_play": money["outstanding"] + money["unissued"],
        "to_return": money["returned"],
    }

    return {
        "as_of": now.astimezone(zone).isoformat(),
        "campaign": {
            "id": campaign.id,
            "name": campaign.name,
            "timezone": campaign.timezone,
            "issuance_halted": campaign.issuance_halted,
        },
        "funds": funds,
        "coupon_funds": coupon_funds,
        "rounds": round_rows,
        "residents": {
            "registered": int(registered),
            "with_profile": int(with_profile),
            "acquired": int(acquired or 0),
        },
        "by_area": by_area,
        "by_age_band": by_age_band,
        "by_category": by_category,
        "stores": {
            "active": active,
            "used_at_least_once": used_once,
            "registered": len(store_rows),
        },
        "payouts": payouts,
        "fraud": fraud_reading.per_rule(db, campaign.id),  # issue 15: flags per rule
        "store_table": store_rows,
        "series": _series(db, campaign, rounds, zone, now, confirmed),
    }


def _series(db: Session, campaign: Campaign, rounds, zone: ZoneInfo, now, confirmed) -> dict:
    """What the charts draw: per day of the campaign, what was issued and used (and the plan);
    per round, its acquisitions in each hour after it opened."""
    if not rounds:
        return {"days": [], "issued": [], "used": [], "uses": [], "plan": [], "opening": {}}
    ids = [r.id for r in rounds]
    start = rounds[0].starts
    used_hour = local_hour(db, Redemption.used_at, zone, start).label("h")
    used_rows = db.execute(
        select(used_hour, func.count(), func.sum(Redemption.amount))
        .where(*confirmed)
        .group_by(literal_column("h"))
    ).all()
    acq_hour = local_hour(db, Acquisition.created_at, zone, start).label("h")
    acq_rows = db.execute(
        select(acq_hour, func.count(), func.sum(Acquisition.amount))
        .where(Acquisition.round_id.in_(ids))
        .group_by(literal_column("h"))
    ).all()
    first_day = start.astimezone(zone).date()
    last_day = (rounds[-1].ends - dt.timedelta(microseconds=1)).astimezone(zone).date()
    days = [first_day + dt.timedelta(days=i) for i in range((last_day - first_day).days + 1)]
    index = {d.isoformat(): i for i, d in enumerate(days)}
    issued, used, n_uses = [0] * len(days), [0] * len(days), [0] * len(days)
    for hour, _n, amount in acq_rows:
        i = index.get(hour[:10])
        if i is not None:
            issued[i] += int(amount or 0)
    for hour, n, amount in used_rows:
        i = index.get(hour[:10])
        if i is not None:
            used[i] += int(amount or 0)
            n_uses[i] += int(n)
    # The plan: each round's planned amount spread evenly over its days, cumulated.
    plan = [0] * len(days)
    for r in rounds:
        r_days = [
            index[d.isoformat()]
            for d in days
            if r.starts.astimezone(zone).date()
            <= d
            <= (r.ends - dt.timedelta(microseconds=1)).astimezone(zone).date()
        ]
        for j, i in enumerate(r_days, start=1):
            plan[i] += r.planned * j // len(r_days) - r.planned * (j - 1) // len(r_days)
    acq_by_hour = {hour: int(n) for hour, n, _a in acq_rows}
    opening = {}
    for r in rounds:
        if r.starts > now:
            continue
        first = r.starts.astimezone(zone).replace(minute=0, second=0, microsecond=0)
        opening[str(r.number)] = [
            acq_by_hour.get(_hour_key(first + dt.timedelta(hours=h), zone), 0)
            for h in range(OPENING_HOURS)
        ]
    today = now.astimezone(zone).date()
    return {
        "days": [d.isoformat() for d in days],
        "through": min(len(days), max(0, (today - first_day).days + 1)),
        "issued": issued,
        "used": used,
        "uses": n_uses,
        "plan": plan,
        "opening": opening,
        "opening_starts": {
            str(r.number): r.starts.astimezone(zone).replace(minute=0).isoformat() for r in rounds
        },
    }


ROUND_KEYS = (
    "round",
    "state",
    "quota",
    "issued_amount",
    "acquisitions",
    "used_amount",
    "uses",
    "expired_amount",
    "rollover",
)


def api_json(figures: dict) -> dict:
    """The figures as DESIGN §5.2 `GET /api/v1/staff/dashboard` gives them, exactly its fields."""
    row = lambda d, keys: {k: d[k] for k in keys}  # noqa: E731
    return {
        "as_of": figures["as_of"],
        "funds": dict(figures["funds"]),
        "rounds": [row(r, ROUND_KEYS) for r in figures["rounds"]],
        "residents": dict(figures["residents"]),
        "by_area": [
            row(a, ("area", "residents", "acquisitions", "used_amount")) for a in figures["by_area"]
        ],
        "by_age_band": [
            row(a, ("age_band", "residents", "acquisitions", "used_amount"))
            for a in figures["by_age_band"]
        ],
        "by_category": [
            row(c, ("category", "stores", "uses", "used_amount")) for c in figures["by_category"]
        ],
        "stores": row(figures["stores"], ("active", "used_at_least_once")),
        "payouts": dict(figures["payouts"]),
        # Added (issue 15): per fraud rule, the cases raised, still open, confirmed, cleared.
        "fraud": [
            row(f, ("rule", "raised", "flagged", "under_review", "confirmed", "cleared"))
            for f in figures.get("fraud", [])
        ],
    }
