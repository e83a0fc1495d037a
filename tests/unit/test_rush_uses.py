"""The rush benchmark's stream of uses at stores (tests/benchmarks/tills.py, loadgen.py): the plan
is legal under the campaign's rules, and the open loop neither waits for answers nor hides a
late send (latency from the scheduled time)."""

from __future__ import annotations

import asyncio
import collections
import threading
import time
import types

import aiohttp
from aiohttp import web

from tests.benchmarks import loadgen, tills

CAMPAIGN = types.SimpleNamespace(
    min_bill_one=1000, min_bill_two=2000, coupons_per_pack=4, store_limit_per_round=2
)


def test_every_use_of_the_plan_is_legal():
    residents, tokens = 50, [f"t{n}" for n in range(40)]
    plan = tills.plan(CAMPAIGN, residents, tokens)
    assert len(plan) == tills.USES_PER_RESIDENT * residents
    per_resident = collections.Counter()
    per_store = collections.Counter()
    for resident, token, coupons, bill in plan:
        per_resident[resident] += coupons
        per_store[resident, token] += coupons
        assert bill >= (CAMPAIGN.min_bill_one, CAMPAIGN.min_bill_two)[coupons - 1]
    assert set(per_resident.values()) == {CAMPAIGN.coupons_per_pack}
    assert max(per_store.values()) <= CAMPAIGN.store_limit_per_round
    assert {c for _, _, c, _ in plan} == {1, 2}
    # Use k of everyone before use k + 1 of anyone: one resident's uses are far apart.
    firsts = [r for r, *_ in plan[:residents]]
    assert firsts == list(range(residents))


def test_enough_residents_for_the_warmup_the_baseline_and_the_rush():
    needed = tills.residents_needed(50, 120)
    assert needed * tills.USES_PER_RESIDENT >= 50 * (
        tills.WARMUP_SECONDS + tills.ALONE_SECONDS + 120
    )
    assert tills.residents_needed(0, 120) == 0


async def _open_loop(delay: float, block: float, calls: int, rate: float, stop_after=None):
    """Run the open loop against a local server answering after `delay` s; the client's own
    loop is blocked for `block` s right after the start."""

    async def answer(request):
        await asyncio.sleep(delay)
        return web.json_response({}, status=201)

    app = web.Application()
    app.router.add_post(loadgen.USE_PATH, answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    stop = threading.Event()
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            plan = [[0, "t", 1, 1200]] * calls
            built, coupons = loadgen.use_calls([("cookie", "csrf")], plan)
            if block:
                asyncio.get_running_loop().call_soon(time.sleep, block)
            if stop_after is not None:
                asyncio.get_running_loop().call_later(stop_after, stop.set)
            return await loadgen.open_loop(
                http, f"http://127.0.0.1:{port}", built, coupons, rate, stop
            )
    finally:
        await runner.cleanup()


def test_the_open_loop_does_not_wait_for_answers():
    # 20 calls at 100/s, each answered after 0.2 s: sent on time, all in flight together.
    summary = asyncio.run(_open_loop(delay=0.2, block=0, calls=20, rate=100))
    assert summary["outcomes"] == {"201": 20}
    assert summary["seconds"] < 0.4  # a closed loop of one would take 4 s
    assert summary["p50_ms"] >= 200
    assert summary["coupons_ok"] == 20 and summary["exhausted"] is True


def test_a_late_send_counts_in_the_latency():
    # The client stalls 0.3 s at the start: the calls due meanwhile were sent late, and their
    # latency runs from when they were due, not from when they went out.
    summary = asyncio.run(_open_loop(delay=0.0, block=0.3, calls=20, rate=100))
    assert summary["max_ms"] >= 250
    assert summary["send_lag_p99_ms"] >= 250


def test_the_stream_stops_when_told():
    summary = asyncio.run(_open_loop(delay=0.0, block=0, calls=1000, rate=100, stop_after=0.2))
    assert summary["exhausted"] is False
    assert 5 <= summary["requests"] <= 40
