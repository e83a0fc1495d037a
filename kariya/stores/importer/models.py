"""An uploaded file kept in the database between two steps of a staff member's flow (the store
list's preview and its confirmation), so that every web process, on any host, finds it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from kariya.orm import Base, UTCDateTime


class UploadedFile(Base):
    """One upload: found by its random token, only by whoever uploaded it and only for the flow
    (`purpose`) it was uploaded for; removed when confirmed, cancelled or old."""

    __tablename__ = "uploaded_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(30))
    uploaded_by: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    filename: Mapped[str] = mapped_column(String(200), default="")
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
