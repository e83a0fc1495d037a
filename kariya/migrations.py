"""Apply Alembic migrations from code (`kariya initdb`, the tests)."""

from __future__ import annotations

from alembic.config import Config

from alembic import command
from kariya.settings import PROJECT_ROOT


def alembic_config(connection=None) -> Config:
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine, revision: str = "head") -> None:
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)
