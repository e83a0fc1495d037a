"""At the till (issue 15): the PIN as typed, the PINs refused as too easy to guess, the code of
the day, and the in-memory counter (`make run`) under threads."""

import datetime as dt
import threading

import pytest

from kariya.redemptions import till


@pytest.mark.parametrize(
    "typed,pin",
    [("2580", "2580"), ("２５８０", "2580"), (" 25 80 ", "2580"), (2580, "2580"), ("0042", "0042")],
)
def test_pins_as_typed(typed, pin):
    assert till.parse_pin(typed) == pin


@pytest.mark.parametrize("typed", ["", "123", "12345", "12a4", "１２.３", None, True, 12.5, [1]])
def test_malformed_pins_are_refused_in_japanese(typed):
    with pytest.raises(till.InvalidPin) as refused:
        till.parse_pin(typed)
    assert refused.value.status == 422 and "数字4けた" in refused.value.message


@pytest.mark.parametrize("pin", ["0000", "1111", "1234", "6789", "9876", "3210"])
def test_the_first_guesses_anyone_makes_are_refused(pin):
    assert till._guessable(pin)


@pytest.mark.parametrize("pin", ["2580", "1357", "1123", "9870", "0428"])
def test_other_pins_are_fine(pin):
    assert not till._guessable(pin)


def test_day_codes_are_three_digits_per_store_and_day():
    ctx = till._build("unit-secret", "", 3, "")
    day = dt.date(2024, 1, 15)
    codes = {till.day_code(ctx, store, day) for store in range(1, 200)}
    assert all(len(c) == 3 and c.isdigit() for c in codes)
    assert len(codes) > 150  # spread over the 1,000 values
    assert till.day_code(ctx, 7, day) == till.day_code(ctx, 7, day)


def test_the_day_is_the_date_in_japan():
    assert till.today(dt.datetime(2024, 1, 15, 14, 59, 59, tzinfo=dt.UTC)) == dt.date(2024, 1, 15)
    assert till.today(dt.datetime(2024, 1, 15, 15, 0, tzinfo=dt.UTC)) == dt.date(2024, 1, 16)


def test_memory_counter_hands_out_only_the_limit_under_threads():
    attempts = till.MemoryAttempts()
    slots = []
    barrier = threading.Barrier(16)

    def guess():
        barrier.wait()
        slots.append(attempts.claim("k", 3))

    threads = [threading.Thread(target=guess) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(s for s in slots if s) == [1, 2, 3] and slots.count(None) == 13
    attempts.give_back("k")
    assert attempts.taken("k") == 2 and attempts.claim("k", 3) == 3
