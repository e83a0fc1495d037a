"""The fraud rules about who uses coupons with whom, where and when, and about the store's
account and registrations (issue 15): rings of residents at one store round after round, one
resident at stores of different districts within minutes, a new store's large takings, a bank
account changed just before a payout, many voids, and residents registered in bulk just before
a round opens. Each is set-based SQL over the records; kariya.fraud.rules lists them all."""

from __future__ import annotations

import datetime as dt

from kariya.fraud.findings import Context, Finding, Rule, jst, ratio, yen
from kariya.residents.options import AGE_BANDS, AREAS
from workflows import payout as payout_wf
from workflows import redemption as redemption_wf
from workflows import store as store_wf

# --- who uses coupons together ------------------------------------------------------------------

_PAIRS = """
WITH mine AS (
  SELECT r.id, r.store_id, r.person_id, r.round_id, r.used_at
  FROM redemption r JOIN round rd ON rd.id = r.round_id
  WHERE rd.campaign_id = :c AND r.state = :confirmed AND r.used_at < :now
), regular AS (
  SELECT store_id, person_id FROM mine GROUP BY 1, 2 HAVING count(DISTINCT round_id) >= :rounds
), u AS (
  SELECT mine.* FROM mine JOIN regular USING (store_id, person_id)
)
SELECT a.store_id, a.person_id AS p1, b.person_id AS p2, count(DISTINCT a.round_id) AS rounds
FROM u a JOIN u b ON b.store_id = a.store_id AND b.round_id = a.round_id
  AND b.person_id > a.person_id
  AND b.used_at BETWEEN a.used_at - CAST(:span AS interval) AND a.used_at + CAST(:span AS interval)
GROUP BY 1, 2, 3 HAVING count(DISTINCT a.round_id) >= :rounds
"""


def _groups(pairs: list[tuple[int, int]]) -> list[set[int]]:
    """The residents linked by pairs, group by group (connected components)."""
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        parent[root(a)] = root(b)
    groups: dict[int, set[int]] = {}
    for x in list(parent):
        groups.setdefault(root(x), set()).add(x)
    return list(groups.values())


def ring(ctx: Context) -> list[Finding]:
    """The same few residents using coupons at one store within minutes of each other, round
    after round, making up much of its takings: a store paying with phones it collected. The
    pairs come from SQL (residents who each used the store in that many rounds); a ring is a
    group of residents linked by such pairs, so two couples who happen to shop there are two
    pairs, not a ring of four, and a couple alone is no ring by default."""
    s = ctx.settings
    by_store: dict[int, list] = {}
    for row in ctx.rows(_PAIRS, span=dt.timedelta(minutes=s.ring_minutes), rounds=s.ring_rounds):
        by_store.setdefault(row["store_id"], []).append(row)
    found = []
    for store_id, rows in by_store.items():
        rings = [
            g for g in _groups([(r["p1"], r["p2"]) for r in rows]) if len(g) >= s.ring_residents
        ]
        if not rings:
            continue
        members = set().union(*rings)
        uses = ctx.store_uses(store_id, "r.person_id = ANY(:members)", members=list(members))
        store_uses = len(ctx.store_uses(store_id))
        share = len(uses) / store_uses if store_uses else 0.0
        if share < s.ring_share:
            continue
        figures = {
            "members": len(members),
            "rounds": max(int(r["rounds"]) for r in rows if r["p1"] in members),
            "ring_uses": len(uses),
            "store_uses": store_uses,
            "share": round(share, 2),
            "minutes": s.ring_minutes,
        }
        marks = {f"person:{p}" for p in members}
        found.append(Finding("store", store_id, marks, figures, uses, members))
    return found


def _describe_ring(f: dict) -> str:
    return (
        f"同じ{f['members']}人が{f['rounds']}回の回にわたり{f['minutes']}分以内に続けて利用。"
        f"その{f['ring_uses']}件はこの店舗の利用 {f['store_uses']}件の{round(f['share'] * 100)}%"
    )


_FAR = """
SELECT a.person_id, a.id AS a_id, b.id AS b_id, sa.code AS a_store, sb.code AS b_store,
       sa.area AS a_area, sb.area AS b_area, a.used_at,
       extract(epoch FROM b.used_at - a.used_at) / 60.0 AS minutes
FROM redemption a
JOIN round rd ON rd.id = a.round_id
JOIN redemption b ON b.person_id = a.person_id AND b.id <> a.id AND b.state = :confirmed
  AND b.used_at >= a.used_at AND b.used_at <= a.used_at + CAST(:span AS interval)
  AND b.used_at < :now AND (b.used_at, b.id) > (a.used_at, a.id)
JOIN store sa ON sa.id = a.store_id
JOIN store sb ON sb.id = b.store_id
WHERE rd.campaign_id = :c AND a.state = :confirmed AND a.used_at >= :since AND a.used_at < :now
  AND sa.area <> '' AND sb.area <> '' AND sa.area <> sb.area
ORDER BY a.person_id, a.used_at
"""


def far_apart(ctx: Context) -> list[Finding]:
    """One resident using coupons at stores of different districts within minutes: a QR code
    photographed and used away from the store, or one phone in several hands."""
    s = ctx.settings
    by_person: dict[int, list] = {}
    for row in ctx.rows(_FAR, span=dt.timedelta(minutes=s.far_minutes)):
        by_person.setdefault(row["person_id"], []).append(row)
    found = []
    for person_id, rows in by_person.items():
        uses = {r["a_id"] for r in rows} | {r["b_id"] for r in rows}
        pairs = [
            {
                "from": r["a_store"],
                "from_area": AREAS.get(r["a_area"], r["a_area"]),
                "to": r["b_store"],
                "to_area": AREAS.get(r["b_area"], r["b_area"]),
                "minutes": round(float(r["minutes"]), 1),
                "at": ctx.local(r["used_at"]).isoformat(),
            }
            for r in rows
        ]
        figures = {"pairs": pairs[:10], "count": len(pairs), "limit": s.far_minutes}
        found.append(Finding("person", person_id, {f"use:{i}" for i in uses}, figures, uses))
    return found


def _describe_far(f: dict) -> str:
    p = min(f["pairs"], key=lambda q: q["minutes"])
    more = f" ほか{f['count'] - 1}組" if f["count"] > 1 else ""
    return (
        f"地区の異なる店舗で{p['minutes']}分の間に利用({jst(p['at'])} {p['from_area']}"
        f" {p['from']} → {p['to_area']} {p['to']}){more}(基準 {f['limit']}分以内)"
    )


# --- the store's registration, account and voids ------------------------------------------------

_NEW_STORES = """
WITH act AS (
  SELECT s.id AS store_id, coalesce(nullif(s.category, ''), '-') AS category,
         coalesce((SELECT max(t.at) FROM transition_record t WHERE t.machine = :machine
                   AND t.event = 'activate' AND t.entity_id = s.id), s.created_at) AS activated
  FROM store s
)
SELECT act.store_id, act.category, act.activated, count(*) AS n, sum(r.amount) AS amount
FROM act
JOIN redemption r ON r.store_id = act.store_id AND r.state = :confirmed
  AND r.used_at >= act.activated AND r.used_at < :now
  AND r.used_at < act.activated + CAST(:first_days AS interval)
JOIN round rd ON rd.id = r.round_id AND rd.campaign_id = :c
WHERE act.activated > :first_start AND act.activated >= :new_since AND act.activated < :now
GROUP BY 1, 2, 3 HAVING sum(r.amount) >= :min_amount
"""

_DAILY_NORMS = """
WITH t AS (
  SELECT r.store_id, sum(r.amount) AS amount
  FROM redemption r JOIN round rd ON rd.id = r.round_id
  WHERE rd.campaign_id = :c AND r.state = :confirmed AND r.used_at >= :since AND r.used_at < :now
  GROUP BY 1
)
SELECT coalesce(nullif(s.category, ''), '-') AS category, count(*) AS stores,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY t.amount) AS median
FROM t JOIN store s ON s.id = t.store_id
GROUP BY ROLLUP (1)
"""


def new_store(ctx: Context) -> list[Finding]:
    """A store that began after the campaign did, with large takings in its first days (KT,
    Daejeon): per day, against the median store of its category over the recent days."""
    s = ctx.settings
    if not ctx.rounds:
        return []
    first_days = dt.timedelta(days=s.new_store_days)
    rows = ctx.rows(
        _NEW_STORES,
        machine=store_wf.MACHINE.kariya_name,
        first_days=first_days,
        first_start=ctx.rounds[0].starts,
        new_since=ctx.now - first_days - dt.timedelta(days=s.window_days),
        min_amount=s.new_store_min_amount,
    )
    if not rows:
        return []
    covered = max(ctx.since, ctx.rounds[0].starts)
    window_days = max((ctx.now - covered).total_seconds() / 86400, 1.0)
    norms = {r["category"]: r for r in ctx.rows(_DAILY_NORMS)}
    found = []
    for row in rows:
        norm = norms.get(row["category"])
        by_category = norm is not None and norm["stores"] >= s.takings_min_stores
        norm = norm if by_category else norms.get(None)
        if norm is None:
            continue
        per_day_norm = float(norm["median"]) / window_days
        elapsed = min(ctx.now, row["activated"] + first_days) - row["activated"]
        days = max(elapsed.total_seconds() / 86400, 1.0)
        per_day = float(row["amount"]) / days
        if per_day < s.new_store_factor * per_day_norm:
            continue
        figures = {
            "activated": ctx.local(row["activated"]).isoformat(),
            "days": round(days, 1),
            "amount": int(row["amount"]),
            "uses": int(row["n"]),
            "per_day": round(per_day),
            "norm_per_day": round(per_day_norm),
            "ratio": ratio(per_day, per_day_norm),
            "category": row["category"],
            "by_category": by_category,
            "factor": s.new_store_factor,
        }
        uses = ctx.store_uses(
            row["store_id"],
            "r.used_at >= :activated",
            "r.used_at < :until",
            activated=row["activated"],
            until=row["activated"] + first_days,
        )
        found.append(Finding("store", row["store_id"], {"new"}, figures, uses))
    return found


def _describe_new(f: dict) -> str:
    norm_of = f"業種「{f['category']}」" if f["by_category"] else "全店舗"
    return (
        f"{jst(f['activated'])}の利用開始から{f['days']}日で利用額 {yen(f['amount'])}"
        f"({f['uses']:,}件)。1日あたり {yen(f['per_day'])} は{norm_of}の中央値"
        f" {yen(f['norm_per_day'])} の{f['ratio']}倍(基準 {f['factor']}倍)"
    )


_BANK_CHANGES = """
SELECT b.id, b.store_id, b.decided_at, b.decided_by, unpaid.n, unpaid.amount
FROM bank_change_request b
CROSS JOIN LATERAL (
  SELECT count(*) AS n, coalesce(sum(r.amount), 0) AS amount
  FROM redemption r JOIN round rd ON rd.id = r.round_id
  WHERE rd.campaign_id = :c AND r.store_id = b.store_id AND r.state = :confirmed
    AND r.used_at < :now
    AND NOT EXISTS (SELECT 1 FROM payout_item i JOIN payout_line l ON l.id = i.line_id
                    WHERE i.redemption_id = r.id AND i.active AND l.status = :transferred)
) unpaid
WHERE b.state = :approved AND b.decided_at >= :bank_since AND b.decided_at < :now
  AND unpaid.amount >= :min_amount
"""


def bank_change(ctx: Context) -> list[Finding]:
    """The transfer account changed shortly before a payout while takings wait to be paid (the
    national mint's scenarios: an account taken over just before settlement)."""
    s = ctx.settings
    found = []
    for row in ctx.rows(
        _BANK_CHANGES,
        approved=store_wf.B.approved,
        transferred=payout_wf.L.transferred,
        bank_since=ctx.now - dt.timedelta(days=s.bank_change_days),
        min_amount=s.bank_change_min_amount,
    ):
        figures = {
            "decided_at": ctx.local(row["decided_at"]).isoformat(),
            "decided_by": row["decided_by"] or "",
            "unpaid": int(row["amount"]),
            "uses": int(row["n"]),
            "days": s.bank_change_days,
        }
        marks = {f"bank_change:{row['id']}"}
        found.append(Finding("store", row["store_id"], marks, figures, bank_changes={row["id"]}))
    return found


def _describe_bank(f: dict) -> str:
    return (
        f"{jst(f['decided_at'])}に振込先口座を変更(承認 {f['decided_by']})。未払いの利用額"
        f" {yen(f['unpaid'])}({f['uses']:,}件)が変更後の口座へ支払われる予定"
    )


_VOIDS = """
SELECT r.store_id, r.round_id, count(*) AS uses,
       count(*) FILTER (WHERE r.state = :voided) AS voids,
       array_agg(r.id) FILTER (WHERE r.state = :voided) AS voided
FROM redemption r
WHERE r.round_id = ANY(:rounds) AND r.used_at < :now
GROUP BY 1, 2
HAVING count(*) FILTER (WHERE r.state = :voided) >= :min_voids
   AND count(*) FILTER (WHERE r.state = :voided) >= :share * count(*)
"""


def voids(ctx: Context) -> list[Finding]:
    """Many voids by one store in a round: a store confirming uses and taking them back (a
    screenshot confirmed, then voided once noticed), or testing what passes."""
    s, numbers = ctx.settings, {r.id: r.number for r in ctx.recent_rounds}
    if not numbers:
        return []
    found = []
    for row in ctx.rows(
        _VOIDS,
        rounds=list(numbers),
        voided=redemption_wf.S.voided,
        min_voids=s.voids_min,
        share=s.voids_share,
    ):
        number = numbers[row["round_id"]]
        figures = {
            "round": number,
            "voids": int(row["voids"]),
            "uses": int(row["uses"]),
            "share": round(row["voids"] / row["uses"], 2),
        }
        uses = set(row["voided"])
        found.append(Finding("store", row["store_id"], {f"round:{number}"}, figures, uses))
    return found


def _describe_voids(f: dict) -> str:
    return f"第{f['round']}回の取消 {f['voids']}件(利用 {f['uses']}件の{round(f['share'] * 100)}%)"


# --- residents registered in bulk ----------------------------------------------------------------

_BULK = """
WITH p AS (
  SELECT pe.id, pe.age_band, pe.area, pe.created_at, rd.number AS round
  FROM person pe
  JOIN round rd ON rd.campaign_id = :c AND pe.created_at >= rd.starts - CAST(:before AS interval)
    AND pe.created_at < rd.starts
  WHERE pe.created_at >= :bulk_since AND pe.created_at < :now
    AND pe.age_band IS NOT NULL AND pe.area IS NOT NULL
), share AS (
  SELECT round, age_band, area,
         count(*)::float / sum(count(*)) OVER (PARTITION BY round) AS share
  FROM p GROUP BY 1, 2, 3
), w AS (
  SELECT p.*,
         count(*) OVER (PARTITION BY round, age_band, area ORDER BY created_at
                        RANGE BETWEEN CURRENT ROW AND CAST(:span AS interval) FOLLOWING) AS same,
         count(*) OVER (PARTITION BY round ORDER BY created_at
                        RANGE BETWEEN CURRENT ROW AND CAST(:span AS interval) FOLLOWING) AS everyone
  FROM p
), hot AS (
  SELECT w.round, w.age_band, w.area, w.created_at AS start, w.same,
         w.everyone * share.share AS expected
  FROM w JOIN share USING (round, age_band, area)
  WHERE w.same >= :min_residents AND w.same >= :factor * w.everyone * share.share
)
SELECT hot.round, hot.age_band, hot.area, hot.start, hot.same, hot.expected,
       p.id, p.created_at
FROM hot JOIN p ON p.round = hot.round AND p.age_band = hot.age_band AND p.area = hot.area
  AND p.created_at >= hot.start AND p.created_at <= hot.start + CAST(:span AS interval)
ORDER BY hot.round, hot.age_band, hot.area, hot.start, p.created_at, p.id
"""


def bulk_residents(ctx: Context) -> list[Finding]:
    """Residents registered in quick succession just before a round opens, all with the same
    profile answers, many more than that profile's share of the registrations of those minutes
    would give: one person behind many LINE accounts. The case is the group's: its subject is
    the first of them, its evidence every member (and their uses)."""
    s = ctx.settings
    before, span = dt.timedelta(hours=s.bulk_before_hours), dt.timedelta(minutes=s.bulk_minutes)
    groups: list[dict] = []
    for row in ctx.rows(
        _BULK,
        before=before,
        span=span,
        bulk_since=ctx.since - before,
        min_residents=s.bulk_residents,
        factor=s.bulk_factor,
    ):
        key = (row["round"], row["age_band"], row["area"])
        last = groups[-1] if groups else None
        if last is None or last["key"] != key or row["start"] > last["until"]:
            last = {"key": key, "members": {}, "until": row["start"] + span, "peak": row}
            groups.append(last)
        last["until"] = max(last["until"], row["start"] + span)
        last["members"][row["id"]] = row["created_at"]
        if row["same"] > last["peak"]["same"]:
            last["peak"] = row
    found = []
    for group in groups:
        members = sorted(group["members"], key=lambda i: (group["members"][i], i))
        times = sorted(group["members"].values())
        uses = {
            r["id"]
            for r in ctx.rows(
                "SELECT r.id FROM redemption r JOIN round rd ON rd.id = r.round_id"
                " WHERE rd.campaign_id = :c AND r.person_id = ANY(:members)"
                " AND r.state = :confirmed AND r.used_at < :now",
                members=members,
            )
        }
        number, age_band, area = group["key"]
        peak = group["peak"]
        figures = {
            "round": int(number),
            "members": len(members),
            "age_band": AGE_BANDS.get(age_band, age_band),
            "area": AREAS.get(area, area),
            "first": ctx.local(times[0]).isoformat(),
            "minutes": round((times[-1] - times[0]).total_seconds() / 60, 1),
            "peak": int(peak["same"]),
            "expected": round(float(peak["expected"]), 1),
            "window": s.bulk_minutes,
            "uses": len(uses),
        }
        marks = {f"person:{p}" for p in members}
        found.append(Finding("person", members[0], marks, figures, uses, set(members)))
    return found


def _describe_bulk(f: dict) -> str:
    return (
        f"第{f['round']}回の配布開始前({jst(f['first'])}から)に、同じ回答({f['age_band']}・"
        f"{f['area']})の{f['members']}人が{f['minutes']}分の間に続けて登録。{f['window']}分間に"
        f"最大{f['peak']}人(登録全体に占める割合からは{f['expected']}人ほど)。利用 {f['uses']}件"
    )


RULES = (
    Rule(
        "ring",
        "同じ顔ぶれによる繰り返しの利用",
        "store",
        "同じ店舗で数分以内に続けて利用する同じ市民の組が、回をまたいで繰り返すかを見ます。",
        ring,
        _describe_ring,
    ),
    Rule(
        "far_apart",
        "離れた店舗での短時間の連続利用",
        "person",
        "1人の市民が地区の異なる店舗で数分の間に利用したかを見ます(店舗の位置は地区で判断)。",
        far_apart,
        _describe_far,
    ),
    Rule(
        "new_store",
        "新規店舗の多額の利用",
        "store",
        "キャンペーン開始後に利用を始めた店舗の最初の日々の利用額を、業種の中央値と比べます。",
        new_store,
        _describe_new,
    ),
    Rule(
        "bank_change",
        "支払直前の振込先口座の変更",
        "store",
        "振込先口座を最近変更し、未払いの利用額がある店舗を挙げます。",
        bank_change,
        _describe_bank,
    ),
    Rule(
        "voids",
        "取消の多発",
        "store",
        "回ごとの店舗の取消の件数と、利用に占める割合を見ます。",
        voids,
        _describe_voids,
    ),
    Rule(
        "bulk_residents",
        "配布開始直前の一斉登録",
        "person",
        "配布開始前の登録のうち、同じ回答(年代・地区)の市民が数分の間に、登録全体に占める割合から考えられるより多く続いたかを見ます。",
        bulk_residents,
        _describe_bulk,
    ),
)
