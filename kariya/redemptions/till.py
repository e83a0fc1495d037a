"""At the till (I-10, issue 15): what lets the staff trust the phone in front of them.

**The code of the day** (本日の照合番号): three digits per store and day (Japan time), an HMAC of
the store and the date under a server key (`kariya.till.secret`, or one derived from the session
secret). The resident's confirmation screen and the store portal show it in large type; staff
compare the two. It cannot be worked out from the QR, and yesterday's screenshot shows
yesterday's code. A sticker is printed once, so it carries no code: it says the code is on the
portal.

**The staff PIN** (暗証番号): a store may opt into a 4-digit PIN, set in its portal and kept as a
keyed hash (HMAC-SHA256 under the same server key, with the store in the message). A PIN of
4 digits has 10,000 values, so a slow hash would not protect it from anyone holding the table
(10,000 tries); the key, which is not in the database, does, and verifying costs microseconds at
a busy till. A use at such a store needs the PIN, typed on the resident's phone by the staff, so
a photographed QR is useless away from the counter.

**Wrong PINs** (`kariya.till.max_pin_failures`, 3): each guess first takes a slot in a counter per
(store, resident, day) in Redis, with one atomic script that refuses once the slots are gone; the
guess is checked only after, and a right PIN gives its slot back. However many guesses arrive at
once, at most 3 are ever checked. The third wrong one locks that store's QR for that resident
until midnight (Japan time, from the project's clock), and a `till_lock` row records it for the
call centre, written in a transaction of its own (the refused request rolls back). Without Redis
(`make run`) the counter lives in the process's memory.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import hmac
import logging
import re
import threading
import unicodedata
from typing import Protocol

import redis
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from kariya.clock import to_jst
from kariya.errors import DomainError, Invalid
from kariya.orm import insert_or_skip
from kariya.redemptions.models import TillLock
from kariya.settings import Settings, settings_of
from kariya.stores.models import Store

log = logging.getLogger(__name__)

PIN_LENGTH = 4
DAY_CODE_DIGITS = 3
KEY_TTL_SECONDS = 2 * 86_400  # housekeeping only: the day is part of the key


class PinRequired(DomainError):
    code = "PIN_REQUIRED"
    status = 403
    message = (
        "このお店では、お店の人が暗証番号(数字4けた)を入力して確定します。"
        "スマートフォンをお店の人に渡してください。"
    )


class WrongPin(DomainError):
    code = "WRONG_PIN"
    status = 403


class StoreLocked(DomainError):
    code = "STORE_LOCKED"
    status = 403


class InvalidPin(Invalid):
    code = "INVALID_PIN"
    message = "暗証番号は数字4けたで入力してください。"


# --- the counter of wrong PINs ------------------------------------------------------------------


class Attempts(Protocol):
    def claim(self, key: str, limit: int) -> int | None:
        """Take the next slot (1..limit), or None when all are taken: one atomic step."""

    def give_back(self, key: str) -> None: ...

    def taken(self, key: str) -> int: ...


# KEYS[1] the counter; ARGV[1] the limit, ARGV[2] the TTL. Returns the slot taken, 0 if none.
_CLAIM = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then return 0 end
n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return n
"""
_GIVE_BACK = """
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then return redis.call('DECR', KEYS[1]) end
return 0
"""


class RedisAttempts:
    def __init__(self, client: redis.Redis):
        self.client = client
        self._claim = client.register_script(_CLAIM)
        self._give_back = client.register_script(_GIVE_BACK)

    def claim(self, key: str, limit: int) -> int | None:
        return int(self._claim(keys=[key], args=[limit, KEY_TTL_SECONDS])) or None

    def give_back(self, key: str) -> None:
        self._give_back(keys=[key])

    def taken(self, key: str) -> int:
        return int(self.client.get(key) or 0)


class MemoryAttempts:
    """This process's memory, for development without Redis (one process, `make run`)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def claim(self, key: str, limit: int) -> int | None:
        with self._lock:
            n = self._counts.get(key, 0)
            if n >= limit:
                return None
            self._counts[key] = n + 1
            return n + 1

    def give_back(self, key: str) -> None:
        with self._lock:
            self._counts[key] = max(0, self._counts.get(key, 0) - 1)

    def taken(self, key: str) -> int:
        with self._lock:
            return self._counts.get(key, 0)


# --- the context: the key, the counter, the words ---------------------------------------------


@dataclasses.dataclass(frozen=True)
class Till:
    day_key: bytes = dataclasses.field(repr=False)
    pin_key: bytes = dataclasses.field(repr=False)
    attempts: Attempts
    max_failures: int
    callcenter: str  # "電話 0566-00-0000、平日 9:00〜17:00(…)" for the locked message


@functools.lru_cache(maxsize=8)
def _build(secret: str, redis_url: str, max_failures: int, callcenter: str) -> Till:
    root = hmac.new(secret.encode(), b"kariya.till", hashlib.sha256).digest()
    if redis_url:
        client = redis.Redis.from_url(
            redis_url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30
        )
        attempts: Attempts = RedisAttempts(client)
    else:
        attempts = MemoryAttempts()
    return Till(
        day_key=hmac.new(root, b"day-code", hashlib.sha256).digest(),
        pin_key=hmac.new(root, b"staff-pin", hashlib.sha256).digest(),
        attempts=attempts,
        max_failures=max_failures,
        callcenter=callcenter,
    )


def of(settings) -> Till:
    """The till's context for these settings (made once per process)."""
    s: Settings = settings_of(settings)
    return _build(
        s.till.secret or s.session_secret,
        s.redis_url,
        s.till.max_pin_failures,
        f"電話 {s.callcenter.phone}、{s.callcenter.hours}",
    )


def today(now: dt.datetime) -> dt.date:
    """The day a code and a lock belong to: the date in Japan at `now`."""
    return to_jst(now).date()


def day_code(till: Till, store_id: int, day: dt.date) -> str:
    """The store's code of `day`: 3 digits ("042"), the same on the phone and in the portal."""
    digest = hmac.new(till.day_key, f"{store_id}:{day.isoformat()}".encode(), hashlib.sha256)
    value = int.from_bytes(digest.digest()[:8], "big") % 10**DAY_CODE_DIGITS
    return f"{value:0{DAY_CODE_DIGITS}d}"


def day_label(day: dt.date) -> str:
    return f"{day.month}月{day.day}日"


# --- the PIN ------------------------------------------------------------------------------------


def parse_pin(value) -> str:
    """A PIN as typed: full-width digits and spaces are understood; exactly 4 digits."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidPin()
    text = re.sub(r"\s", "", unicodedata.normalize("NFKC", str(value)))
    if not re.fullmatch(rf"\d{{{PIN_LENGTH}}}", text):
        raise InvalidPin()
    return text


def _pin_hash(till: Till, store_id: int, pin: str) -> str:
    return hmac.new(till.pin_key, f"{store_id}:{pin}".encode(), hashlib.sha256).hexdigest()


def _guessable(pin: str) -> bool:
    """1111, 1234, 9876 and the like: the first guesses anyone makes."""
    steps = {int(b) - int(a) for a, b in zip(pin, pin[1:], strict=False)}
    return len(steps) == 1 and steps <= {-1, 0, 1}


def set_pin(db: Session, clock, till: Till, store: Store, pin, confirm, *, actor: str) -> None:
    """The store opts into (or changes) its staff PIN; typed twice."""
    pin = parse_pin(pin)
    try:
        again = parse_pin(confirm)
    except InvalidPin:
        again = None
    if again != pin:
        raise Invalid(
            "確認のために入力した暗証番号が一致しません。同じ番号を2回入力してください。",
            code="PIN_MISMATCH",
        )
    if _guessable(pin):
        raise Invalid(
            "推測されやすい番号(1111、1234、9876 など)は使えません。別の番号にしてください。",
            code="PIN_TOO_SIMPLE",
        )
    store.till_pin_hash = _pin_hash(till, store.id, pin)
    store.till_pin_set_at, store.till_pin_set_by = clock.now(), actor[:100]
    db.flush()


def clear_pin(db: Session, clock, store: Store, *, actor: str) -> None:
    """The store stops asking for a PIN."""
    store.till_pin_hash = None
    store.till_pin_set_at, store.till_pin_set_by = clock.now(), actor[:100]
    db.flush()


def _counter_key(store_id: int, person_id: int, day: dt.date) -> str:
    return f"kariya:till:pin:{day:%Y%m%d}:{store_id}:{person_id}"


def locked(till: Till, store: Store, person_id: int, now: dt.datetime) -> bool:
    """Whether this store's QR is locked for this person today (stores with a PIN only)."""
    if store.till_pin_hash is None:
        return False
    key = _counter_key(store.id, person_id, today(now))
    return till.attempts.taken(key) >= till.max_failures


def _locked_error(till: Till, day: dt.date) -> StoreLocked:
    return StoreLocked(
        f"暗証番号を{till.max_failures}回まちがえたため、このお店では今日({day_label(day)})は"
        "割引券を使えません。明日になると、また使えます。お困りのときは、お店の人か、"
        f"コールセンター({till.callcenter})にご相談ください。"
    )


def check_pin(
    db: Session, till: Till | None, store: Store, person_id: int, pin, now: dt.datetime
) -> None:
    """Refuse a use at a store with a PIN unless the PIN is right (and the QR not locked).

    For a store without a PIN this reads nothing (the hash came with the store row)."""
    if store.till_pin_hash is None:
        return
    if till is None:  # a caller that knows no PIN cannot pass one
        raise PinRequired()
    if pin is None or (isinstance(pin, str) and not pin.strip()):
        if locked(till, store, person_id, now):
            raise _locked_error(till, today(now))
        raise PinRequired()
    typed = parse_pin(pin)
    day = today(now)
    key = _counter_key(store.id, person_id, day)
    slot = till.attempts.claim(key, till.max_failures)
    if slot is None:
        raise _locked_error(till, day)
    if hmac.compare_digest(_pin_hash(till, store.id, typed), store.till_pin_hash):
        till.attempts.give_back(key)
        return
    left = till.max_failures - slot
    if left > 0:
        raise WrongPin(
            f"暗証番号が違います。あと{left}回まちがえると、このお店では今日は割引券を"
            "使えなくなります。お店の人に、もう一度入力してもらってください。"
        )
    _record_lock(db, person_id, store.id, day, now)
    raise _locked_error(till, day)


def _record_lock(db: Session, person_id: int, store_id: int, day: dt.date, now) -> None:
    """The lock as a row for the call centre, in a transaction of its own (the refused
    request's rolls back). Never raises: the resident must still be answered."""
    bind = db.get_bind()
    if not isinstance(bind, Engine):
        return
    try:
        with Session(bind) as apart, apart.begin():
            apart.execute(
                insert_or_skip(apart, TillLock, on=["person_id", "store_id", "day"]).values(
                    person_id=person_id, store_id=store_id, day=day, locked_at=now
                )
            )
    except Exception:
        log.exception("could not record the till lock", extra={"store_id": store_id})


def locks_of(db: Session, person_id: int) -> list[tuple[TillLock, Store]]:
    """The days a resident was locked out of a store's QR (the call centre's timeline)."""
    rows = db.execute(
        select(TillLock, Store)
        .join(Store, Store.id == TillLock.store_id)
        .where(TillLock.person_id == person_id)
        .order_by(TillLock.locked_at)
    )
    return [(lock, store) for lock, store in rows]


def portal(till: Till, store: Store, now: dt.datetime) -> dict:
    """What the store portal shows at the till: today's code and whether a PIN is asked."""
    day = today(now)
    return {
        "day": day_label(day),
        "day_code": day_code(till, store.id, day),
        "pin": store.till_pin_hash is not None,
        "pin_set_at": store.till_pin_set_at,
    }


def for_phone(till: Till | None, store: Store, person_id: int, now: dt.datetime) -> dict:
    """What the resident's phone shows: the code of the day, whether a PIN is asked, and
    whether this store's QR is locked for them today."""
    if till is None:
        return {}
    day = today(now)
    answer = {
        "day_code": day_code(till, store.id, day),
        "pin_required": store.till_pin_hash is not None,
        "locked": locked(till, store, person_id, now),
    }
    if answer["locked"]:
        answer["message"] = _locked_error(till, day).message
    return answer
