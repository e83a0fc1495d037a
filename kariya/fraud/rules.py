"""The fraud rules (issue 15; PEERS.md "Fraud in customer-scans-store-QR schemes"): each rule is
one or two set-based SQL queries over the recent uses (never per-use work, never on the
redemption path), its thresholds the settings `kariya.fraud.*` (`Fraud` in kariya/thresholds.py).

A rule returns findings: a subject (a store or a resident), the figures against the norm, the
evidence (uses, residents, a bank account change) and its *marks*, what was found. The scan
(kariya.fraud.scan) opens one case per subject and rule, adds a later finding to the open case,
and after a case is closed opens a new one only for a mark not seen before: a cleared store is
not flagged again for the same round, day or uses.

Districts stand in for distance: stores have a district (地区) and an address but no
coordinates, so "stores far apart" is "stores of different districts".
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from kariya.fraud import hours as hours_text
from kariya.fraud import patterns
from kariya.fraud.findings import Context, Finding, Rule, day_label, jst, ratio, yen

RISE_DAYS = 7  # the previous days a day's takings are compared with


# --- a store's takings against the norm ---------------------------------------------------------

_ROUND_TAKINGS = """
WITH t AS (
  SELECT r.round_id, r.store_id, coalesce(nullif(s.category, ''), '-') AS category,
         count(*) AS n, sum(r.amount) AS amount
  FROM redemption r JOIN store s ON s.id = r.store_id
  WHERE r.round_id = ANY(:rounds) AND r.state = :confirmed AND r.used_at < :now
  GROUP BY 1, 2, 3
), cat AS (
  SELECT round_id, category, count(*) AS stores,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY amount) AS median
  FROM t GROUP BY 1, 2
), everyone AS (
  SELECT round_id, count(*) AS stores,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY amount) AS median
  FROM t GROUP BY 1
), judged AS (
  SELECT t.*, cat.stores >= :min_stores AS by_category,
         CASE WHEN cat.stores >= :min_stores THEN cat.median ELSE everyone.median END AS norm,
         CASE WHEN cat.stores >= :min_stores THEN cat.stores ELSE everyone.stores END AS norm_stores
  FROM t JOIN cat USING (round_id, category) JOIN everyone USING (round_id)
)
SELECT * FROM judged WHERE amount >= :min_amount AND amount >= :factor * norm
"""


def takings_norm(ctx: Context) -> list[Finding]:
    """A store's takings in a round far above the median store of its category (PEERS: Seoul
    screens a store's voucher takings; Onnuri found 13 of the 15 stores taking most fraudulent)."""
    s, numbers = ctx.settings, {r.id: r.number for r in ctx.recent_rounds}
    if not numbers:
        return []
    found = []
    for row in ctx.rows(
        _ROUND_TAKINGS,
        rounds=list(numbers),
        min_stores=s.takings_min_stores,
        min_amount=s.takings_min_amount,
        factor=s.takings_factor,
    ):
        number = numbers[row["round_id"]]
        figures = {
            "round": number,
            "amount": int(row["amount"]),
            "uses": int(row["n"]),
            "norm": round(float(row["norm"])),
            "ratio": ratio(row["amount"], row["norm"]),
            "category": row["category"],
            "by_category": bool(row["by_category"]),
            "norm_stores": int(row["norm_stores"]),
            "factor": s.takings_factor,
        }
        uses = ctx.store_uses(row["store_id"], "r.round_id = :rid", rid=row["round_id"])
        found.append(Finding("store", row["store_id"], {f"round:{number}"}, figures, uses))
    return found


def _describe_norm(f: dict) -> str:
    norm_of = f"業種「{f['category']}」の店舗" if f["by_category"] else "全店舗"
    return (
        f"第{f['round']}回の利用額 {yen(f['amount'])}({f['uses']:,}件)は、"
        f"{norm_of}({f['norm_stores']}店)の中央値 {yen(f['norm'])} の{f['ratio']}倍"
        f"(基準 {f['factor']}倍)"
    )


_DAILY = """
WITH d AS (
  SELECT r.store_id, (r.used_at AT TIME ZONE :tz)::date AS day, count(*) AS n,
         sum(r.amount) AS amount
  FROM redemption r JOIN round rd ON rd.id = r.round_id
  WHERE rd.campaign_id = :c AND r.state = :confirmed AND r.used_at >= :base_since
    AND r.used_at < :now
  GROUP BY 1, 2
), b AS (
  SELECT d.*, coalesce(sum(amount) OVER (PARTITION BY store_id ORDER BY day
                       RANGE BETWEEN CAST(:days_back AS interval) PRECEDING
                                 AND CAST('1 day' AS interval) PRECEDING), 0) AS before
  FROM d
)
SELECT store_id, day, n, amount,
       before::float / LEAST(:days, day - CAST(:first_day AS date)) AS baseline
FROM b
WHERE day >= CAST(:window_day AS date) AND day > CAST(:first_day AS date)
  AND amount >= :min_amount
"""


def takings_rise(ctx: Context) -> list[Finding]:
    """A store's takings of a day far above its mean of the previous days (KT, Daejeon: bursts
    against the store's normal level). Days without uses count as nothing taken."""
    s = ctx.settings
    if not ctx.rounds:
        return []
    first_day = ctx.local(ctx.rounds[0].starts).date()
    found = []
    for row in ctx.rows(
        _DAILY,
        base_since=ctx.since - dt.timedelta(days=RISE_DAYS),
        days=RISE_DAYS,
        days_back=dt.timedelta(days=RISE_DAYS),
        first_day=first_day,
        window_day=ctx.local(ctx.since).date(),
        min_amount=s.rise_min_amount,
    ):
        baseline = float(row["baseline"])
        if row["amount"] < s.rise_factor * max(baseline, s.rise_floor_amount):
            continue
        day = row["day"]
        start = dt.datetime.combine(day, dt.time(), ZoneInfo(ctx.zone))
        figures = {
            "day": day.isoformat(),
            "amount": int(row["amount"]),
            "uses": int(row["n"]),
            "baseline": round(baseline),
            "ratio": ratio(row["amount"], max(baseline, s.rise_floor_amount)),
            "factor": s.rise_factor,
        }
        uses = ctx.store_uses(
            row["store_id"],
            "r.used_at >= :start",
            "r.used_at < :end",
            start=start,
            end=start + dt.timedelta(days=1),
        )
        found.append(Finding("store", row["store_id"], {f"day:{day.isoformat()}"}, figures, uses))
    return found


def _describe_rise(f: dict) -> str:
    return (
        f"{day_label(f['day'])}の利用額 {yen(f['amount'])}({f['uses']:,}件)は、"
        f"それまでの1日平均 {yen(f['baseline'])} の{f['ratio']}倍(基準 {f['factor']}倍)"
    )


# --- the times of a store's uses ----------------------------------------------------------------

_BURSTS = """
WITH u AS (
  SELECT r.id, r.store_id, r.used_at
  FROM redemption r JOIN round rd ON rd.id = r.round_id
  WHERE rd.campaign_id = :c AND r.state = :confirmed AND r.used_at >= :since AND r.used_at < :now
), w AS (
  SELECT u.store_id, u.used_at,
         count(*) OVER (PARTITION BY u.store_id ORDER BY u.used_at
                        RANGE BETWEEN CURRENT ROW AND CAST(:span AS interval) FOLLOWING) AS n
  FROM u
), starts AS (SELECT store_id, used_at, n FROM w WHERE n >= :min_uses)
SELECT s.store_id, s.used_at AS start, s.n, u.id
FROM starts s JOIN u ON u.store_id = s.store_id AND u.used_at >= s.used_at
  AND u.used_at <= s.used_at + CAST(:span AS interval)
ORDER BY s.store_id, s.used_at
"""


def burst(ctx: Context) -> list[Finding]:
    """Many uses at one store within a few minutes: a store scanning its QR with phones it
    collected (PEERS: Matsuyama 2022), one person with many accounts at one till."""
    s = ctx.settings
    span = dt.timedelta(minutes=s.burst_minutes)
    by_store: dict[int, dict] = {}
    for row in ctx.rows(_BURSTS, span=span, min_uses=s.burst_uses):
        entry = by_store.setdefault(
            row["store_id"], {"uses": set(), "max": 0, "starts": [], "last_start": None}
        )
        entry["uses"].add(row["id"])
        entry["max"] = max(entry["max"], int(row["n"]))
        if entry["last_start"] is None or row["start"] > entry["last_start"] + span:
            entry["starts"].append(row["start"])
        entry["last_start"] = max(entry["last_start"] or row["start"], row["start"])
    found = []
    for store_id, entry in by_store.items():
        figures = {
            "max_uses": entry["max"],
            "minutes": s.burst_minutes,
            "bursts": len(entry["starts"]),
            "uses": len(entry["uses"]),
            "first": ctx.local(entry["starts"][0]).isoformat(),
            "threshold": s.burst_uses,
        }
        marks = {f"use:{i}" for i in entry["uses"]}
        found.append(Finding("store", store_id, marks, figures, set(entry["uses"])))
    return found


def _describe_burst(f: dict) -> str:
    return (
        f"{f['minutes']}分間に最大{f['max_uses']}件の利用(基準 {f['threshold']}件)。"
        f"集中 {f['bursts']}回・計{f['uses']}件、最初は{jst(f['first'])}"
    )


_OFF_HOURS = """
WITH h AS (
  SELECT * FROM unnest(CAST(:ids AS integer[]), CAST(:open AS int4multirange[]))
    AS h(store_id, open)
), u AS (
  SELECT r.id, r.store_id, r.used_at, (r.used_at AT TIME ZONE :tz) AS local
  FROM redemption r JOIN round rd ON rd.id = r.round_id
  WHERE rd.campaign_id = :c AND r.state = :confirmed AND r.used_at >= :since AND r.used_at < :now
)
SELECT u.id, u.store_id, u.used_at
FROM u JOIN h ON h.store_id = u.store_id
WHERE NOT h.open @> ((extract(isodow FROM u.local)::int - 1) * 1440
                     + extract(hour FROM u.local)::int * 60 + extract(minute FROM u.local)::int)
ORDER BY u.store_id, u.used_at
"""


def off_hours(ctx: Context) -> list[Finding]:
    """Uses outside the store's opening hours (as the store list gives them, with a grace for a
    till closed a little late). Stores whose hours text is not understood are not checked. Each
    store's open minutes of the week are one multirange, so a use costs one containment test."""
    s = ctx.settings
    ids, opened, texts = [], [], {}
    for store_id, hours in ctx.db.execute(text("SELECT id, hours FROM store")).all():
        intervals = hours_text.open_minutes(hours)
        if intervals is None or intervals == [(0, hours_text.WEEK)]:
            continue
        texts[store_id] = hours
        ids.append(store_id)
        ranges = hours_text.with_grace(intervals, s.off_hours_grace_minutes)
        opened.append("{" + ",".join(f"[{lo},{hi}]" for lo, hi in ranges) + "}")
    if not ids:
        return []
    by_store: dict[int, list] = {}
    for row in ctx.rows(_OFF_HOURS, ids=ids, open=opened):
        by_store.setdefault(row["store_id"], []).append(row)
    found = []
    for store_id, rows in by_store.items():
        if len(rows) < s.off_hours_min_uses:
            continue
        figures = {
            "hours": texts[store_id],
            "uses": len(rows),
            "first": ctx.local(rows[0]["used_at"]).isoformat(),
            "last": ctx.local(rows[-1]["used_at"]).isoformat(),
            "grace": s.off_hours_grace_minutes,
        }
        uses = {r["id"] for r in rows}
        found.append(Finding("store", store_id, {f"use:{i}" for i in uses}, figures, uses))
    return found


def _describe_off_hours(f: dict) -> str:
    return (
        f"営業時間({f['hours']})の前後{f['grace']}分より外の利用 {f['uses']}件"
        f"({jst(f['first'])}〜{jst(f['last'])})"
    )


def unread_hours(db: Session) -> int:
    """How many stores' hours the off-hours rule cannot read (so does not check)."""
    return sum(
        1
        for (hours,) in db.execute(text("SELECT hours FROM store")).all()
        if hours_text.open_minutes(hours) is None
    )


RULES: tuple[Rule, ...] = (
    Rule(
        "takings_norm",
        "業種の標準を大きく超える利用額",
        "store",
        "回ごとの店舗の利用額を、同じ業種の店舗の中央値と比べます。",
        takings_norm,
        _describe_norm,
    ),
    Rule(
        "takings_rise",
        "利用額の急増(前日までとの比較)",
        "store",
        "1日の利用額を、その店舗の前7日間の1日平均と比べます。",
        takings_rise,
        _describe_rise,
    ),
    Rule(
        "burst",
        "短時間の集中利用",
        "store",
        "1店舗で数分の間に続いた利用の件数を数えます。",
        burst,
        _describe_burst,
    ),
    Rule(
        "off_hours",
        "営業時間外の利用",
        "store",
        "店舗一覧の営業時間の外の利用を数えます(読み取れない営業時間の店舗は対象外)。",
        off_hours,
        _describe_off_hours,
    ),
    *patterns.RULES,
)

BY_CODE = {rule.code: rule for rule in RULES}


def label(code: str) -> str:
    rule = BY_CODE.get(code)
    return rule.label if rule else code


def describe(code: str, figures: dict) -> str:
    rule = BY_CODE.get(code)
    if rule is None or not figures:
        return ""
    try:
        return rule.describe(figures)
    except (KeyError, TypeError, ValueError):  # figures of an older version of the rule
        return ""
