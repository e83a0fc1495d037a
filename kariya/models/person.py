from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from kariya.models.meta import Base
from kariya.models.types import UTCDateTime


class Person(Base):
    """A resident, known by their LINE user id (OpenID `sub`), with a one-time profile (I-1)."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    line_user_id: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    age_band: Mapped[str | None] = mapped_column(String(20))
    area: Mapped[str | None] = mapped_column(String(50))
    terms_version: Mapped[str | None] = mapped_column(String(20))
    profile_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    @property
    def has_profile(self) -> bool:
        return self.profile_at is not None
