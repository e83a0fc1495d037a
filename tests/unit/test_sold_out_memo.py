"""I-9, issue 16: the sold-out memo (kariya.coupons.acquisition.SoldOutMemo). After a sell-out
a process refuses late arrivals from memory; past the memo's time one request looks again while
the others are still refused, so the database sees one late arrival per process and period,
not the whole herd of that moment."""

from __future__ import annotations

import datetime as dt
import time
from types import SimpleNamespace

from kariya.coupons.acquisition import SoldOutMemo

SECONDS = 0.2


def sold_out_round(now: dt.datetime):
    return SimpleNamespace(ends=now + dt.timedelta(hours=1))


def test_nothing_is_refused_before_a_sell_out_is_seen():
    memo = SoldOutMemo(SECONDS)
    now = dt.datetime.now(dt.UTC)
    assert not memo.refuses(now) and not memo.refuses(now) and not memo.remembers(now)


def test_past_its_time_one_request_looks_again_and_the_others_are_still_refused():
    memo, now = SoldOutMemo(SECONDS), dt.datetime.now(dt.UTC)
    rnd = sold_out_round(now)
    memo.remember(rnd)
    assert memo.refuses(now) and memo.remembers(now)
    time.sleep(SECONDS + 0.05)
    assert not memo.remembers(now)
    assert not memo.refuses(now)  # the first to ask looks again
    assert memo.refuses(now) and memo.refuses(now)  # the others, meanwhile, are refused
    memo.remember(rnd)  # it saw the round still sold out
    assert memo.refuses(now) and memo.remembers(now)


def test_a_look_that_never_comes_back_lapses():
    memo, now = SoldOutMemo(SECONDS), dt.datetime.now(dt.UTC)
    memo.remember(sold_out_round(now))
    time.sleep(SECONDS + 0.05)
    assert not memo.refuses(now)  # this one looks, and fails before it reaches the database
    assert memo.refuses(now)
    time.sleep(SECONDS + 0.05)
    assert not memo.refuses(now)  # so another looks


def test_the_database_saying_otherwise_ends_the_memo_at_once():
    memo, now = SoldOutMemo(SECONDS), dt.datetime.now(dt.UTC)
    memo.remember(sold_out_round(now))
    time.sleep(SECONDS + 0.05)
    assert not memo.refuses(now)
    memo.forget()  # the one that looked found the round halted
    assert not memo.refuses(now) and not memo.refuses(now)


def test_never_past_the_rounds_end():
    memo, now = SoldOutMemo(SECONDS), dt.datetime.now(dt.UTC)
    rnd = sold_out_round(now)
    memo.remember(rnd)
    assert memo.refuses(now)
    assert not memo.refuses(rnd.ends) and not memo.remembers(rnd.ends)
