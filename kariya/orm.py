"""The ORM kernel: the declarative base with a naming convention (so migrations get stable
constraint names), the reusable column types, and the insert that skips an existing row on
PostgreSQL and SQLite alike."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Insert, MetaData, TypeDecorator
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Session

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator):
    """An aware datetime stored as UTC; always read back aware (UTC), on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def upsertable(db: Session, target) -> Insert:
    """An INSERT of the session's database (PostgreSQL, or SQLite for the demo) that knows
    `ON CONFLICT`: `.on_conflict_do_nothing(...)` or `.on_conflict_do_update(...)`."""
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(target)


def insert_or_skip(db: Session, target, *, on: list[str] | None = None) -> Insert:
    """`INSERT ... ON CONFLICT (on) DO NOTHING` in the session's database (PostgreSQL, or SQLite
    for the demo): add `.values(...)` or `.from_select(...)`, and `.returning(...)`, which gives
    no row where a row with the same `on` columns was already there (without `on`: where the
    row conflicts with any unique constraint)."""
    return upsertable(db, target).on_conflict_do_nothing(index_elements=on)
