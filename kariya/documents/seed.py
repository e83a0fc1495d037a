"""Version 1 of each document: the texts the project ships (kariya/documents/texts/*.md), left
published by `kariya initdb` (DESIGN.md section 5.2). Idempotent: a document that exists is
left as it is, so running initdb again never touches what the secretariat and the city did."""

from __future__ import annotations

from importlib import resources

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from kariya.documents import kinds
from kariya.documents.models import Document, DocumentVersion
from workflows import document as document_wf

ACTOR = "system:initdb"
NOTE = "初版(システムに同梱の文面)"


def shipped_text(kind: kinds.Kind) -> str:
    return resources.files("kariya.documents").joinpath(kind.text_file).read_text("utf-8")


def ensure(db: Session, clock) -> list[str]:
    """Create every missing document with its version 1 published; returns the kinds created."""
    existing = set(db.scalars(select(Document.kind)))
    now = clock.now()
    created = []
    for kind in kinds.KINDS.values():
        if kind.code in existing:
            continue
        document_id = db.scalar(
            insert(Document)
            .values(kind=kind.code, title=kind.title, created_at=now)
            .returning(Document.id)
        )
        db.execute(
            insert(DocumentVersion).values(
                document_id=document_id,
                number=1,
                state=document_wf.S.published,
                body=shipped_text(kind).rstrip(),
                change_note=NOTE,
                created_by=ACTOR,
                created_at=now,
                updated_by=ACTOR,
                updated_at=now,
                decision_note="",
                published_by=ACTOR,
                published_at=now,
            )
        )
        created.append(kind.code)
    return created
