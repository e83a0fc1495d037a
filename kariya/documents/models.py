"""Documents the city approves (C-4), their versions, and the residents' consents to the terms
(I-1, D-1)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from kariya.orm import Base, UTCDateTime
from workflows import document as document_wf
from workflows.binding import state_check

_UNPUBLISHED = "state IN ({})".format(", ".join(f"'{s}'" for s in document_wf.UNPUBLISHED))
_PUBLISHED = f"state = '{document_wf.S.published}'"


class Document(Base):
    """One document (its kind: store_manual, callcenter_manual, terms), made by the seeding of
    kariya initdb with its version 1."""

    __tablename__ = "document"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30), unique=True)
    title: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class DocumentVersion(Base):
    """A numbered version of a document (1, 2, ...), moved by workflows.document. Its body is
    Markdown with the campaign's numbers as placeholders (kariya.documents.placeholders). At
    most one version per document is unpublished (draft to approved) and at most one is
    published: two partial unique indexes. A published version is never edited."""

    __tablename__ = "document_version"
    __table_args__ = (
        state_check(document_wf.MACHINE),
        UniqueConstraint("document_id", "number"),
        Index(
            "uq_document_version_unpublished",
            "document_id",
            unique=True,
            postgresql_where=text(_UNPUBLISHED),
            sqlite_where=text(_UNPUBLISHED),
        ),
        Index(
            "uq_document_version_published",
            "document_id",
            unique=True,
            postgresql_where=text(_PUBLISHED),
            sqlite_where=text(_PUBLISHED),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("document.id"))
    number: Mapped[int]
    state: Mapped[str] = mapped_column(String(20), default=document_wf.S.draft)
    body: Mapped[str] = mapped_column(Text)
    change_note: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # The last one to change the text (also never its approver).
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    submitted_by: Mapped[str | None] = mapped_column(String(100))
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The city's last decision: approved, or changes requested (with the reason).
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str] = mapped_column(String(1000), default="")
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    published_by: Mapped[str | None] = mapped_column(String(100))
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    superseded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class TermsConsent(Base):
    """A resident agreed to a version of the terms and privacy notice, at a time (D-1). The
    newest version a person agreed to is the highest `version` of their rows."""

    __tablename__ = "terms_consent"
    __table_args__ = (UniqueConstraint("person_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    version: Mapped[int]
    agreed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
