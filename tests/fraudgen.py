"""A normal campaign of the full size, generated for the fraud watch (issue 15): 600 stores,
20,000 residents and their uses of three weekly rounds (the scan's week is round 3; rounds 1 and
2 are the history the ring and day-on-day rules compare with), bulk-inserted with COPY in a few
seconds. Shared by the fraud tests (a session-scoped fixture, tests/conftest.py) and the
benchmark (tests/benchmarks/fraud.py).

"Normal" is modelled on how people shop, so that every rule has something to stay quiet about:
stores' popularity varies within a category (a factor of about four); residents shop in their
own district at a few favourite stores, one use per trip or two at neighbouring stores of the
same district minutes apart; a seventh of them shop as couples (two residents at one till
within minutes, round after round); registrations surge in the evening before each round; about
one use in a hundred is voided; a dozen stores join during round 2; some stores changed their
bank account before the campaign. Seeded: the same data every run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kariya.campaign import definition
from kariya.clock import FixedClock
from kariya.fraud import hours as hours_text
from kariya.residents import refs
from tests.helpers import JST, campaign_toml

SEED = 20240115
ROUND1 = dt.datetime(2024, 1, 15, tzinfo=JST)
WEEKS = 3  # rounds with uses; the scan's week is the last
NOW = ROUND1 + dt.timedelta(weeks=WEEKS) - dt.timedelta(hours=1)  # Sunday 23:00 of round 3
STORES, RESIDENTS, NEW_STORES = 600, 20_000, 12
CATEGORIES = {  # category: (share of stores, how much a store of it takes)
    "食料品": (0.18, 2.5),
    "飲食": (0.24, 1.0),
    "小売": (0.14, 1.0),
    "衣料品": (0.07, 0.8),
    "家電": (0.04, 1.2),
    "書籍": (0.03, 0.7),
    "ドラッグストア": (0.06, 2.0),
    "理容・美容": (0.08, 0.5),
    "サービス": (0.07, 0.6),
    "自動車・自転車": (0.03, 0.6),
    "住まい・家具": (0.02, 0.7),
    "宿泊・レジャー": (0.02, 0.6),
    "その他": (0.02, 0.6),
}
AREAS = ["kariya", "iyosami", "ogakie", "fujimatsu", "shigehara", "higashikariya"]
AREA_SHARES = [0.30, 0.15, 0.13, 0.16, 0.11, 0.15]
AGE_BANDS = ["u19", "20s", "30s", "40s", "50s", "60s", "70s", "80plus"]
AGE_SHARES = [0.03, 0.10, 0.15, 0.18, 0.17, 0.16, 0.14, 0.07]
HOURS = [  # the store list's opening hours, as the city's list writes them
    "10:00〜19:00",
    "9:00〜18:00 水曜定休",
    "10:00〜20:00",
    "11:00〜14:00、17:00〜22:00 月曜休み",
    "8:00〜21:00",
    "17:00〜翌1:00 日曜定休",
    "9:30〜19:30 火曜定休",
    "10:00〜19:00(水曜日定休)",
    "24時間営業",
    "",
    "営業時間は店頭でご確認ください",
]


@dataclasses.dataclass
class Generated:
    """What the tests need to know of the data (ids are the database's)."""

    campaign_id: int
    round_ids: list[int]
    now: dt.datetime
    stores: int
    residents: int
    uses: int
    seconds: float
    store_rows: list[tuple]  # (id, code, category, area, hours, weight)
    resident_rows: list[tuple]  # (id, age_band, area, created_at)


def _copy(conn, table: str, columns: list[str], rows) -> None:
    """COPY rows into a table over the session's own psycopg connection."""
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _open_at(rng: random.Random, intervals, day_start: dt.datetime, weekday: int):
    """A moment when the store is open on that day (None when it is closed all day)."""
    day_lo, day_hi = weekday * 1440, weekday * 1440 + 1440
    spans = [(lo, hi) for lo, hi in intervals if day_lo <= lo < day_hi and hi - lo >= 120]
    if not spans:  # closed that day (a night's last hour after midnight is not an opening)
        return None
    lo, hi = rng.choice(spans)
    minute = rng.uniform(lo + 5, hi - 15) - day_lo  # not at the very door
    return day_start + dt.timedelta(minutes=minute)


def _is_open(intervals, at: dt.datetime) -> bool:
    local = at.astimezone(JST)
    minute = hours_text.minute_of_week(local.weekday(), local.hour, local.minute)
    return hours_text.is_open(intervals, minute)


def generate(engine, *, seed: int = SEED) -> Generated:
    """Fill an empty, migrated database with the normal campaign."""
    import time

    started = time.perf_counter()
    rng = random.Random(seed)
    with Session(engine) as db, db.begin():
        spec = definition.parse(campaign_toml(total=300_000_000, rounds=6, start=ROUND1))
        campaign = definition.load(db, FixedClock(ROUND1 - dt.timedelta(days=10)), spec, "gen")
        db.flush()
        rounds = list(campaign.rounds)
        for r in rounds[: WEEKS - 1]:
            r.state = "settled"
        rounds[WEEKS - 1].state = "open"
        db.flush()
        conn = db.connection()
        # Generated rows are consistent by construction: skip the foreign keys' per-row checks
        # while copying (a superuser's setting, for this transaction only).
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        campaign_id, round_ids = campaign.id, [r.id for r in rounds]

        # --- stores ---------------------------------------------------------------------------
        cats = list(CATEGORIES)
        store_rows, stores = [], []
        listed = ROUND1 - dt.timedelta(days=10)
        for i in range(1, STORES + 1):
            category = rng.choices(cats, [CATEGORIES[c][0] for c in cats])[0]
            area = rng.choices(AREAS, AREA_SHARES)[0]
            hours = rng.choice(HOURS)
            weight = CATEGORIES[category][1] * min(max(rng.lognormvariate(0, 0.35), 0.5), 2.0)
            new = i > STORES - NEW_STORES
            created = ROUND1 + dt.timedelta(days=8, hours=rng.uniform(0, 48)) if new else listed
            store_rows.append(
                (i, f"G{i:04d}", f"店舗{i:04d}", "テンポ", category, area, f"刈谷市{area}{i}",
                 "0566-00-0000", hours, "", "0001", "004", "普通", f"{i:07d}", "テンポ", "",
                 "active", secrets.token_hex(16), created, created)
            )  # fmt: skip
            stores.append((i, f"G{i:04d}", category, area, hours, weight, created))
        _copy(
            conn,
            "store",
            ["id", "code", "name", "kana", "category", "area", "address", "phone", "hours",
             "email", "bank_code", "branch_code", "account_type", "account_number",
             "account_holder_kana", "search_text", "state", "qr_token", "created_at",
             "updated_at"],
            store_rows,
        )  # fmt: skip
        # Activation records: the initial stores before the campaign, the new ones in round 2.
        _copy(
            conn,
            "transition_record",
            ["machine", "entity_id", "event", "from_state", "to_state", "actor", "reason", "at"],
            [("store", s[0], "activate", "approved", "active", "gen", "", s[6]) for s in stores],
        )
        # Some stores changed their bank account before the campaign (approved long ago).
        changes = [
            (s[0], "0005", "001", "普通", f"{s[0]:07d}", "テンポ", "", "", "approved", "store",
             listed - dt.timedelta(days=3), "staff:sec", listed, "電話で確認")
            for s in rng.sample(stores[: STORES - NEW_STORES], 15)
        ]  # fmt: skip
        _copy(
            conn,
            "bank_change_request",
            ["store_id", "bank_code", "branch_code", "account_type", "account_number",
             "account_holder_kana", "previous_account", "note", "state", "requested_by",
             "requested_at", "decided_by", "decided_at", "decision_reason"],
            changes,
        )  # fmt: skip

        # --- residents -------------------------------------------------------------------------
        people = []
        for n in range(1, RESIDENTS + 1):
            u = rng.random()
            if u < 0.70:  # before the campaign, over three weeks
                created = ROUND1 - dt.timedelta(days=rng.uniform(2.5, 24))
            else:  # the evening before a round (most of them before round 1)
                k = 0 if u < 0.90 else (1 if u < 0.95 else 2)
                evening = ROUND1 + dt.timedelta(weeks=k) - dt.timedelta(hours=rng.uniform(0.2, 8))
                created = evening - dt.timedelta(days=rng.choice([0, 0, 0, 1]))
            profiled = rng.random() > 0.03
            age = rng.choices(AGE_BANDS, AGE_SHARES)[0] if profiled else None
            area = rng.choices(AREAS + ["outside"], AREA_SHARES + [0.04])[0] if profiled else None
            people.append((n, age, area, created))
        _copy(
            conn,
            "person",
            ["id", "line_user_id", "ref", "display_name", "age_band", "area", "profile_at",
             "created_at"],
            (
                (n, f"G{n:032x}", _ref(n), "", age, area,
                 created + dt.timedelta(minutes=2) if age else None, created)
                for n, age, area, created in people
            ),
        )  # fmt: skip

        # --- uses ------------------------------------------------------------------------------
        by_area: dict[str, list] = {a: [] for a in AREAS}
        for s in stores:
            by_area[s[3]].append(s)
        weights = {a: [s[5] for s in by_area[a]] for a in AREAS}
        schedule = {s[0]: hours_text.open_minutes(s[4]) or [(d * 1440 + 540, d * 1440 + 1140)
                                                             for d in range(7)] for s in stores}  # fmt: skip
        uses = []
        favourite: dict[int, list] = {}
        partner: dict[int, int] = {}
        for n in range(1, RESIDENTS, 2):
            if rng.random() < 0.15:
                partner[n], partner[n + 1] = n + 1, n
        use_id = 0

        def add(person, store, at, coupons, rid):
            nonlocal use_id
            use_id += 1
            voided = rng.random() < 0.01
            bill = coupons * 1000 + rng.randrange(0, 4000, 10)
            uses.append(
                (use_id, person, store[0], rid, coupons, coupons * 500, bill,
                 _code(use_id),
                 "voided" if voided else "confirmed", at,
                 at + dt.timedelta(minutes=3) if voided else None,
                 "staff:store" if voided else None, "打ち間違い" if voided else None)
            )  # fmt: skip

        for k in range(WEEKS):
            start, rid = ROUND1 + dt.timedelta(weeks=k), round_ids[k]
            for n, age, area, created in people:
                if age is None or created >= start + dt.timedelta(days=1) or rng.random() > 0.65:
                    continue
                home = area if area in by_area else rng.choice(AREAS)
                if n not in favourite:
                    favourite[n] = rng.choices(by_area[home], weights[home], k=2)
                if n in partner and partner[n] < n:
                    continue  # the partner's trips are made together with theirs (below)
                left = 4 if rng.random() < 0.85 else rng.choice([2, 3])
                days = rng.sample(range(7), 4)
                at_store: dict[int, int] = {}
                while left > 0 and days:
                    day = days.pop()
                    shop_area = home if rng.random() < 0.85 else rng.choice(AREAS)
                    pool = favourite[n] if rng.random() < 0.6 else None
                    store = (rng.choice(pool) if pool and shop_area == home
                             else rng.choices(by_area[shop_area], weights[shop_area])[0])  # fmt: skip
                    day_start = start + dt.timedelta(days=day)
                    at = _open_at(rng, schedule[store[0]], day_start, (start.weekday() + day) % 7)
                    if at is None or at_store.get(store[0], 0) >= 2:
                        continue
                    coupons = min(left, 2 - at_store.get(store[0], 0), rng.choice([1, 2, 2]))
                    add(n, store, at, coupons, rid)
                    at_store[store[0]] = at_store.get(store[0], 0) + coupons
                    left -= coupons
                    mate = people[partner[n] - 1] if n in partner else None
                    if mate and mate[1] and mate[3] < start:  # a couple at one till, minutes apart
                        add(mate[0], store, at + dt.timedelta(minutes=rng.uniform(0.5, 4)),
                            coupons, rid)  # fmt: skip
                    if left > 0 and rng.random() < 0.2:  # the shop next door, minutes later
                        near = rng.choices(by_area[store[3]], weights[store[3]])[0]
                        later = at + dt.timedelta(minutes=rng.uniform(8, 40))
                        if (
                            near[0] != store[0]
                            and at_store.get(near[0], 0) == 0
                            and _is_open(schedule[near[0]], later)
                        ):
                            add(n, near, later, 1, rid)
                            at_store[near[0]] = 1
                            left -= 1
        uses = [u for u in uses if u[9] < NOW and store_open(stores, u)]
        _copy(
            conn,
            "redemption",
            ["id", "person_id", "store_id", "round_id", "coupons", "amount", "bill_amount",
             "confirmation_code", "state", "used_at", "voided_at", "voided_by", "void_reason"],
            uses,
        )  # fmt: skip
        for table in ("store", "person", "redemption", "transition_record", "bank_change_request"):
            conn.execute(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                    f" (SELECT max(id) FROM {table}))"
                )
            )
    with engine.begin() as conn:
        conn.execute(sa.text("ANALYZE"))
    return Generated(
        campaign_id=campaign_id,
        round_ids=round_ids,
        now=NOW,
        stores=len(stores),
        residents=len(people),
        uses=len(uses),
        seconds=round(time.perf_counter() - started, 2),
        store_rows=[s[:6] for s in stores],
        resident_rows=people,
    )


def store_open(stores, use) -> bool:
    """A new store takes no use before it joined."""
    return use[9] >= stores[use[2] - 1][6]


def _code(n: int) -> str:
    """A confirmation code of the service's alphabet, distinct per use (cheaper than random)."""
    alphabet, digits = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ", []
    n = n * 7919 + 104729
    for _ in range(6):
        n, d = divmod(n, 32)
        digits.append(alphabet[d])
    return "".join(digits)


def _ref(n: int) -> str:
    body = f"9{n:010d}"
    return body + refs.check_digit(body)


def fingerprint() -> str:
    """What the generated data depends on: this generator, the hours reader it uses, the seed
    and the migrations (the schema)."""
    import hashlib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256(str(SEED).encode())
    for path in [Path(__file__), root / "kariya" / "fraud" / "hours.py"] + sorted(
        (root / "alembic" / "versions").glob("*.py")
    ):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def database(url: str, *, reuse: bool = True):
    """A database of its own at `url` (created if missing) holding the normal campaign:
    (engine, Generated). Built afresh (emptied, migrated, filled) unless `reuse` and the
    database already holds the data of this very generator and schema (its fingerprint), as
    the tests leave it: they change it only in transactions they roll back."""
    from sqlalchemy.engine import make_url

    from kariya.migrations import upgrade

    target = make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}
        ):
            conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
    engine = sa.create_engine(target)
    mark = fingerprint()
    if reuse:
        found = _read_back(engine, mark)
        if found is not None:
            return engine, found
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    upgrade(engine)
    generated = generate(engine)
    with engine.begin() as conn:  # not a table of the application: the generator's own note
        conn.execute(sa.text("CREATE TABLE fraudgen_marker (fingerprint text, seconds float)"))
        conn.execute(
            sa.text("INSERT INTO fraudgen_marker VALUES (:f, :s)"),
            {"f": mark, "s": generated.seconds},
        )
    return engine, generated


def _read_back(engine, mark: str) -> Generated | None:
    """The Generated of a database filled earlier by this generator, or None."""
    with engine.connect() as conn:
        if not conn.scalar(sa.text("SELECT to_regclass('fraudgen_marker') IS NOT NULL")):
            return None
        row = conn.execute(sa.text("SELECT fingerprint, seconds FROM fraudgen_marker")).first()
        if row is None or row.fingerprint != mark:
            return None
        stores = [
            (*r, None)
            for r in conn.execute(
                sa.text("SELECT id, code, category, area, hours FROM store ORDER BY id")
            )
        ]
        people = [
            tuple(r)
            for r in conn.execute(
                sa.text("SELECT id, age_band, area, created_at FROM person ORDER BY id")
            )
        ]
        return Generated(
            campaign_id=conn.scalar(sa.text("SELECT id FROM campaign")),
            round_ids=list(conn.scalars(sa.text("SELECT id FROM round ORDER BY number"))),
            now=NOW,
            stores=len(stores),
            residents=len(people),
            uses=conn.scalar(sa.text("SELECT count(*) FROM redemption")),
            seconds=row.seconds,
            store_rows=stores,
            resident_rows=people,
        )
