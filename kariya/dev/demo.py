"""The demo: a campaign of six weekly rounds, twenty active stores, one account per staff role,
and the clock set inside round 1. Running it again changes nothing."""

from __future__ import annotations

import datetime as dt
import tomllib
from importlib import resources

from sqlalchemy import select
from sqlalchemy.orm import Session

from kariya import roles
from kariya.campaign import definition
from kariya.campaign.models import Campaign
from kariya.clock import FixedClock, make_clock, set_clock
from kariya.coupons import ticker
from kariya.settings import Settings
from kariya.staff import accounts
from kariya.staff.models import StaffUser
from kariya.stores import lookup, registration

DEMO_PASSWORD = "kariya-demo-2024"
DEMO_NOW = dt.datetime.fromisoformat("2024-01-15T10:00:00+09:00")
DEMO_USERS = [
    ("secretariat", roles.SECRETARIAT, "事務局 太郎", None),
    ("city", roles.CITY, "刈谷市 商工課", None),
    ("agent", roles.AGENT, "コールセンター 花子", None),
    ("store", roles.STORE, "かりや青果店 店主", "D0001"),
]


def _data(name: str) -> str:
    return resources.files("kariya").joinpath(f"data/{name}").read_text("utf-8")


def load(db: Session, settings: Settings) -> list[tuple[str, str, str]]:
    """Returns (username, role, password) of the demo accounts."""
    actor = "system:demo"
    if settings.clock_settable:
        set_clock(db, DEMO_NOW)
    clock = make_clock(settings, db)
    spec = definition.parse(_data("demo_campaign.toml"))
    if db.scalar(select(Campaign.id).where(Campaign.name == spec.name)) is None:
        # Loaded as of just before round 1, so the campaign can be created.
        before = FixedClock(spec.rounds[0].starts - dt.timedelta(days=1))
        definition.load(db, before, spec, actor)
    for code, name, kana, category, area, address, phone in tomllib.loads(
        _data("demo_stores.toml")
    )["stores"]:
        if lookup.by_code(db, code) is None:
            store = registration.create(
                db,
                clock,
                code=code,
                name=name,
                kana=kana,
                category=category,
                area=area,
                address=address,
                phone=phone,
                hours="10:00〜19:00",
                bank_code="0001",
                branch_code="001",
                account_type="普通",
                account_number=code[-4:].rjust(7, "0"),
                account_holder_kana=kana[:30],
            )
            registration.activate_all_the_way(db, clock, store, actor=actor)
    made = []
    for username, role, display, store_code in DEMO_USERS:
        if db.scalar(select(StaffUser.id).where(StaffUser.username == username)) is None:
            accounts.create_user(
                db,
                clock,
                username=username,
                password=DEMO_PASSWORD,
                role=role,
                display_name=display,
                store_code=store_code,
            )
        made.append((username, role, DEMO_PASSWORD))
    ticker.run_due(db, clock, actor=actor)
    return made
