"""Builders shared by the call-centre tests (Q-1..Q-3, D-1)."""

from __future__ import annotations

import dataclasses

from kariya.clock import FixedClock
from kariya.coupons import acquisition, ticker
from kariya.redemptions import uses
from tests.helpers import ROUND1, load_campaign, login_staff, make_person, make_store, make_user

# Round 1 runs Monday 2024-01-15 00:00 to Monday 2024-01-22 00:00 JST.
MONDAY_10 = ROUND1.replace(hour=10)


@dataclasses.dataclass
class World:
    person: object
    store: object
    code: str


def world(db, *, with_use: bool = True) -> World:
    """A campaign with round 1 open, a store and a resident who acquired (and used 2 coupons at
    12:30 on Monday with a bill of 2,500 yen)."""
    load_campaign(db, total=60_000, rounds=6)
    store = make_store(db, "S0001", "かりや青果店")
    person = make_person(db, 1)
    clock = FixedClock(MONDAY_10)
    ticker.run_due(db, clock, actor="test")
    acquisition.acquire(db, clock, person.id)
    code = ""
    if with_use:
        done = uses.redeem(
            db, FixedClock(ROUND1.replace(hour=12, minute=30)), person.id, store.qr_token, 2, 2500
        )
        code = done["confirmation_code"]
    db.commit()
    return World(person=person, store=store, code=code)


def staff_app(testapp, db, role: str, username: str | None = None):
    """Log `role` in on `testapp`; returns the headers its unsafe JSON calls carry."""
    make_user(db, role, username or role)
    login_staff(testapp, username or role)
    token = testapp.get("/api/v1/staff/me").json["csrf_token"]
    return {"X-CSRF-Token": token}


def new_inquiry(testapp, headers, **fields) -> dict:
    body = {
        "caller_type": "resident",
        "channel": "phone",
        "category": "use",
        "subject": "確認コードについて",
        "body": "お店で表示された確認コードの意味を知りたい",
        **fields,
    }
    return testapp.post_json("/api/v1/staff/inquiries", body, headers=headers, status=201).json


def event(testapp, headers, inquiry_id: int, name: str, note: str = "", status=200, **extra):
    return testapp.post_json(
        f"/api/v1/staff/inquiries/{inquiry_id}/events",
        {"event": name, "note": note, **extra},
        headers=headers,
        status=status,
    ).json
