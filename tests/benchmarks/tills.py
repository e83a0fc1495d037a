"""The stores' side of the weekly-rush benchmark (rush.py, issue 16): residents who acquired
earlier use coupons at stores while the herd acquires.

Before the rush (`prepare`, called by rush.prepare):
- `STORES` stores, taken through to active with their QR token as `kariya import-stores
  --activate` does (kariya.stores.registration);
- residents of their own, not among the rush's: `line_user_id` "Utill…" (LINE_PREFIX; the
  rush's are "U" + hex digits, so the two never meet), a profile and the terms agreed, each of
  whom acquired round 1 through the real service (kariya.coupons.acquisition.acquire,
  in-process, committed in batches): 4 coupons each. rush.load_campaign has already raised
  round 1's quota by their packs, so the rush still has exactly --packs packs; the correctness
  counts (rush.count_outcome) leave these residents out of `acquired` and `coupons` (found by
  their prefix, `earlier_persons`) and check them apart: `earlier_acquired` = their number,
  `earlier_coupons` = 4 x that.
- the plan: every resident uses 1 coupon at a store, 1 at a second and 2 at a third (3 uses,
  their 4 coupons), each bill a little over the campaign's minimum for that many coupons and no
  store past the campaign's per-person-store-round limit, all read from the campaign, so every
  use is legal; use k of every resident comes before use k + 1 of anyone (the same resident's
  uses are far apart, as at real tills). The stream (loadgen.py) sends the plan in order at a
  fixed rate: first WARMUP_SECONDS of it (not counted in the figures) and ALONE_SECONDS alone
  (the baseline) before the herd, then during the acquisitions;
  enough residents are made for both (`residents_needed`, `plan_seconds`).

After the rush (`count_uses`): what the database recorded, to set beside the 201s.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import math
import os
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kariya.clock import Clock, FixedClock
from kariya.coupons import acquisition
from kariya.db import get_session_factory
from kariya.models import Acquisition, Campaign, Coupon, Person, Redemption, TermsConsent
from kariya.residents import refs
from kariya.stores import registration
from tests.benchmarks.serving import describe
from workflows import coupon as coupon_wf

LINE_PREFIX = "Utill"
STORES = 40
USES_PER_RESIDENT = 3  # 1 + 1 + 2 coupons: see `plan`
REF_BASE = 90_000_000_000  # their refs, far from the rush's (0, 1, 2, ...)
BATCH = 500  # acquisitions per commit while preparing
# --uses-via till: the stores' own instance of the app, gthread workers x threads (--uses-server,
# 1x4 by default; each worker with its own pool of the ini's size): in production the load
# balancer sends the stores' requests (/api/v1/redemptions, the store pages) to their own pool
# of instances.
TILL_SERVER = "1x4"


def server_shape(text: str) -> tuple[int, int]:
    """ "WORKERSxTHREADS" (e.g. 1x4) as (workers, threads)."""
    workers, _, threads = text.partition("x")
    if not (workers.isdigit() and threads.isdigit() and int(workers) and int(threads)):
        raise argparse.ArgumentTypeError(f"not WORKERSxTHREADS: {text!r}")
    return int(workers), int(threads)


MAX_USES_P99_MS = 100.0  # issue 16: a resident at a till does not wait for the herd
WARMUP_SECONDS = 2.0  # a fresh instance's first uses are slow (measured: p50 200 ms, then 20)
ALONE_SECONDS = 10.0  # the baseline: the stream alone for this long before the herd


@dataclasses.dataclass
class Tills:
    """What the stream needs: the residents, the stores' QR tokens and the plan, each use as
    [index into person_ids, store_token, coupons, bill_amount]."""

    person_ids: list[int]
    store_tokens: list[str]
    plan: list[list]


def plan_seconds(persons: int, time_limit: float = 300) -> float:
    """How long the uses' plan lasts during the rush by default: the acquisition phase of
    `persons` at 50/s plus 30 s (slower than any run measured here, busy days included), but no
    longer than that phase may last within the run's time limit."""
    return min(persons / 50 + 30, max(30.0, (time_limit - 40) / 2))


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system, every thread) the processes have used so far."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def residents_needed(rate: float, seconds: float) -> int:
    """Residents enough for the warm-up, the baseline and then `seconds` of uses at `rate` per second (0 when
    the stream is off)."""
    before = WARMUP_SECONDS + ALONE_SECONDS
    return math.ceil(rate * (before + seconds) / USES_PER_RESIDENT) if rate > 0 else 0


def earlier_persons() -> sa.Select:
    """The ids of the residents who use coupons during the rush (for count_outcome)."""
    return sa.select(Person.id).where(Person.line_user_id.startswith(LINE_PREFIX))


def insert_residents(engine: sa.Engine, count: int, now: dt.datetime) -> list[int]:
    """`count` residents with a profile who agreed to the terms (version 1), like the rush's."""
    rows = []
    for n in range(count):
        body = f"{REF_BASE + n:011d}"
        rows.append(
            {
                "line_user_id": LINE_PREFIX + uuid.uuid4().hex,
                "ref": body + refs.check_digit(body),
                "display_name": f"来店者{n}",
                "age_band": ("30s", "40s", "50s", "60s")[n % 4],
                "area": "kariya",
                "profile_at": now,
                "created_at": now,
            }
        )
    with engine.begin() as conn:
        ids = list(
            conn.scalars(sa.insert(Person).returning(Person.id, sort_by_parameter_order=True), rows)
        )
        conn.execute(
            sa.insert(TermsConsent), [{"person_id": i, "version": 1, "agreed_at": now} for i in ids]
        )
    return ids


def acquire_all(engine: sa.Engine, person_ids: list[int]) -> None:
    """Each resident acquires the open round through the real service, on the real clock."""
    db = get_session_factory(engine)()
    clock = Clock()
    try:
        for start in range(0, len(person_ids), BATCH):
            for person_id in person_ids[start : start + BATCH]:
                acquisition.acquire(db, clock, person_id)
            db.commit()
    finally:
        db.close()


def make_stores(engine: sa.Engine, count: int, now: dt.datetime) -> list[str]:
    """`count` active stores; their QR tokens."""
    db = get_session_factory(engine)()
    clock = FixedClock(now)
    try:
        stores = []
        for n in range(1, count + 1):
            store = registration.create(
                db, clock, code=f"T{n:04d}", name=f"店舗{n}", kana="テンポ", category="小売"
            )
            registration.activate_all_the_way(db, clock, store, actor="bench")
            stores.append(store)
        db.commit()
        return [s.qr_token for s in stores]
    finally:
        db.close()


def plan(campaign: Campaign, residents: int, tokens: list[str]) -> list[list]:
    """Every resident's uses, each legal under the campaign's rules (see the module docstring)."""
    minimums = [campaign.min_bill_one, campaign.min_bill_two]
    counts = [1] * (campaign.coupons_per_pack - 2) + [2]
    if (
        len(counts) != USES_PER_RESIDENT
        or campaign.store_limit_per_round < max(counts)
        or len(tokens) < len(counts)
    ):
        raise RuntimeError("the uses' plan assumes 4 coupons a pack and a store limit of >= 2")
    uses = []
    for k, count in enumerate(counts):
        for i in range(residents):
            store = tokens[(i * len(counts) + k) % len(tokens)]  # distinct stores per resident
            uses.append([i, store, count, minimums[count - 1] + 100 * ((i + k) % 20)])
    return uses


def prepare(engine: sa.Engine, campaign_id: int, residents: int, now: dt.datetime) -> Tills:
    """Stores, residents who acquired, and their plan (round 1 open, its quota covering them)."""
    tokens = make_stores(engine, STORES, now)
    person_ids = insert_residents(engine, residents, now)
    acquire_all(engine, person_ids)
    db = get_session_factory(engine)()
    try:
        campaign = db.get(Campaign, campaign_id)
        return Tills(person_ids, tokens, plan(campaign, residents, tokens))
    finally:
        db.close()


def stream_spec(tills: Tills | None, rate: float, base_url: str) -> dict:
    """The load generator's spec for the stream (loadgen.py); empty when it is off."""
    if tills is None or rate <= 0:
        return {}
    return {
        "uses_person_ids": tills.person_ids,
        "uses": tills.plan,
        "uses_rate": rate,
        "uses_base_url": base_url,
        "uses_warmup_seconds": WARMUP_SECONDS,
        "uses_alone_seconds": ALONE_SECONDS,
    }


def count_uses(db: Session, round_id: int) -> dict:
    """What the database recorded for the round: the residents who acquired before the rush and
    their coupons, the uses (redemptions), the coupons they took, the coupons now used."""
    earlier = earlier_persons().scalar_subquery()
    count = sa.func.count()
    return {
        "earlier_acquired": db.scalar(
            sa.select(count).where(
                Acquisition.round_id == round_id,
                Acquisition.person_id.in_(earlier),
            )
        ),
        "earlier_coupons": db.scalar(
            sa.select(count).where(Coupon.round_id == round_id, Coupon.person_id.in_(earlier))
        ),
        "uses_recorded": db.scalar(sa.select(count).where(Redemption.round_id == round_id)),
        "uses_coupons_recorded": db.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Redemption.coupons), 0)).where(
                Redemption.round_id == round_id
            )
        ),
        "coupons_used": db.scalar(
            sa.select(count).where(Coupon.round_id == round_id, Coupon.state == coupon_wf.S.used)
        ),
    }


def figures(args: argparse.Namespace, tills: Tills | None, load: dict) -> dict:
    """The stream's part of the JSON line (zeros and nulls when it did not run). `uses_before_*`:
    the warm-up and the baseline together (what the database holds besides the rush's uses)."""
    uses, alone = load.get("uses") or {}, load.get("uses_alone") or {}
    before = [p for p in (load.get("uses_warmup"), alone) if p]

    def ok(phase: dict) -> int:
        return phase.get("outcomes", {}).get("201", 0)

    served = uses.get("requests", 0) + sum(p["requests"] for p in before)
    cpu = load.get("uses_server_cpu_s")
    return {
        "uses": uses.get("requests", 0),
        "uses_ok": ok(uses),
        "uses_errors": uses.get("requests", 0) - ok(uses),
        "uses_p50_ms": uses.get("p50_ms"),
        "uses_p99_ms": uses.get("p99_ms"),
        "uses_rate": uses.get("rate", 0),
        "uses_via": getattr(args, "uses_via", None) if uses else None,
        "uses_server": "{}x{}".format(*args.uses_server) if cpu is not None else None,
        "uses_coupons": uses.get("coupons_ok", 0),
        "uses_exhausted": uses.get("exhausted", False),
        "uses_residents": len(tills.person_ids) if tills else 0,
        "uses_alone_p50_ms": alone.get("p50_ms"),
        "uses_alone_p99_ms": alone.get("p99_ms"),
        "uses_before_ok": sum(ok(p) for p in before),
        "uses_before_errors": sum(p["requests"] - ok(p) for p in before),
        "uses_before_coupons": sum(p["coupons_ok"] for p in before),
        "uses_cpu_ms": round(cpu * 1000 / served, 1) if cpu is not None and served else None,
    }


def targets(result: dict, outcome: dict) -> list[tuple[str, bool]]:
    """The stream's targets, and the database's record of the uses and their residents."""
    recorded = (
        outcome["uses_recorded"] == result["uses_ok"] + result["uses_before_ok"]
        and outcome["uses_coupons_recorded"]
        == outcome["coupons_used"]
        == result["uses_coupons"] + result["uses_before_coupons"]
    )
    earlier = result["uses_residents"]
    checks = [
        ("uses recorded = the 201s, coupons used = theirs", recorded),
        (
            f"{earlier:,} acquired before the rush, 4 coupons each",
            outcome["earlier_acquired"] == earlier and outcome["earlier_coupons"] == 4 * earlier,
        ),
    ]
    if result["uses_rate"]:
        p99 = result["uses_p99_ms"]
        checks += [
            ("uses_errors = 0", result["uses_errors"] == result["uses_before_errors"] == 0),
            (f"uses p99 <= {MAX_USES_P99_MS:.0f} ms", p99 == p99 and p99 <= MAX_USES_P99_MS),
            ("the uses lasted the whole rush", not result["uses_exhausted"]),
        ]
    return checks


def report(args: argparse.Namespace, load: dict, outcome: dict) -> None:
    """The stream's lines of the human summary."""
    uses = load.get("uses")
    if not uses:
        return
    workers, threads = getattr(args, "uses_server", server_shape(TILL_SERVER))
    shape = describe(getattr(args, "server", "gunicorn"), workers, "gthread", threads)
    via = (
        f"the stores' own instance ({shape})"
        if getattr(args, "uses_via", "main") == "till"
        else "the rush's instance"
    )
    print(
        f"uses at stores during the acquisitions, sent to {via} (open loop, {uses['rate']:g}/s "
        f"from their own client; latency from the scheduled send): {uses['requests']:,} in "
        f"{uses['seconds']:.1f} s, p50 {uses['p50_ms']:.0f} ms, p90 {uses['p90_ms']:.0f} ms, "
        f"p99 {uses['p99_ms']:.0f} ms, max {uses['max_ms']:.0f} ms; answers {uses['outcomes']}; "
        f"sent late by p99 {uses['send_lag_p99_ms']:.1f} ms; client {uses['client_cpu']:.0%} "
        f"of a core at nice {uses.get('client_nice')}"
        + ("; the plan RAN OUT before the rush ended" if uses["exhausted"] else "")
    )
    alone, warmup = load.get("uses_alone"), load.get("uses_warmup")
    if alone:
        print(
            f"  baseline, the same stream alone before the herd: {alone['requests']:,} in "
            f"{alone['seconds']:.1f} s, p50 {alone['p50_ms']:.0f} ms, p99 {alone['p99_ms']:.0f} "
            f"ms, max {alone['max_ms']:.0f} ms; answers {alone['outcomes']}"
            + (
                f" (after a warm-up of {warmup['requests']:,}: p50 {warmup['p50_ms']:.0f} ms, "
                f"answers {warmup['outcomes']})"
                if warmup
                else ""
            )
        )
    figures_ = figures(args, None, load)
    if figures_["uses_cpu_ms"] is not None:
        print(f"  the stores' instance spent {figures_['uses_cpu_ms']:.1f} ms of CPU a use")
    print(
        f"database: {outcome['uses_recorded']:,} uses of {outcome['uses_coupons_recorded']:,} "
        f"coupons recorded, {outcome['coupons_used']:,} coupons used (the 201s took "
        f"{uses['coupons_ok'] + figures_['uses_before_coupons']:,}, before the herd and during "
        f"it); {outcome['earlier_acquired']:,} residents acquired before the rush "
        f"({outcome['earlier_coupons']:,} coupons)"
    )
