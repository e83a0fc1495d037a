"""The secretariat's import of the store list on screen (S-1): upload, preview, confirm or
cancel, and the error workbook. The views parse the request, call one of these and render.

The browser holds only the upload's random token (in the signed session, and in the
confirmation form to tell an old preview from the latest); the file waits in the database
(`uploads`), for the staff member who uploaded it only."""

from __future__ import annotations

import posixpath

from sqlalchemy.orm import Session

from kariya.errors import Conflict, DomainError, Invalid
from kariya.stores.importer import applying, planning, uploads, workbooks
from kariya.stores.importer.models import UploadedFile
from kariya.stores.importer.reading import read
from kariya.stores.importer.report import Report

PURPOSE = "store_import"


class NotImported(Exception):
    """The confirmed upload could not be imported (`error`, e.g. rows with errors); nothing is
    to be committed. `report` is the preview to show again."""

    def __init__(self, error: DomainError, report: Report) -> None:
        super().__init__(error.message)
        self.error = error
        self.report = report


def _filename(name: str | None) -> str:
    """The file's own name, without any folder a browser may send (Windows ones too)."""
    return posixpath.basename((name or "").replace("\\", "/"))[:200]


def receive(
    db: Session, clock, data: bytes | None, filename: str | None, *, staff: str, replaces=None
) -> UploadedFile:
    """An uploaded file (None: none was chosen): refuse it now if it cannot be read at all
    (ImportRefused), else keep it until the confirmation, instead of the upload it `replaces`."""
    if data is None:
        raise Invalid("取り込むExcelファイルを選んでください。", code="NO_FILE")
    read(data)
    uploads.discard(db, replaces, uploaded_by=staff)
    return uploads.keep(
        db, clock, data, purpose=PURPOSE, uploaded_by=staff, filename=_filename(filename)
    )


def _upload(db: Session, clock, token, staff: str) -> UploadedFile:
    return uploads.get(db, clock, token, purpose=PURPOSE, uploaded_by=staff)


def preview(db: Session, clock, token, *, staff: str) -> Report:
    """What confirming the upload would do; writes nothing. NotFound once it is gone."""
    upload = _upload(db, clock, token, staff)
    return planning.preview(db, upload.content, filename=upload.filename)


def confirm(db: Session, clock, token, confirmed, *, staff: str, activate: bool) -> Report:
    """Import the upload of `token` (the latest one) in the caller's transaction, which also
    removes it. `confirmed` is the token the confirmation form was made for: an older preview's
    is refused (another tab uploaded since), a vanished upload is NotFound. NotImported when the
    import itself is refused (rows with errors: the error's details, one line per error)."""
    if not token:
        raise uploads.gone()
    if confirmed != token:
        raise Conflict(
            "別の画面で新しいファイルがアップロードされています。確認画面を開き直してください。",
            code="UPLOAD_CHANGED",
        )
    upload = _upload(db, clock, token, staff)
    try:
        report = applying.apply(
            db, clock, upload.content, actor=staff, activate=activate, filename=upload.filename
        )
    except DomainError as exc:
        report = planning.preview(db, upload.content, filename=upload.filename)
        raise NotImported(exc, report) from exc
    db.delete(upload)
    return report


def done_message(report: Report) -> str:
    """What the secretariat is told once the import is committed."""
    message = f"店舗一覧を取り込みました。{report.summary()}"
    if report.activated:
        message += " " + report.activation_summary()
    if report.not_activated:
        message += " " + " ".join(report.not_activated)
    return message


def cancel(db: Session, token, *, staff: str) -> None:
    """The secretariat gives the upload up: it is removed, nothing is imported."""
    uploads.discard(db, token, uploaded_by=staff)


def error_workbook(db: Session, clock, token, *, staff: str) -> bytes:
    """The upload with its error column (checked again now)."""
    return workbooks.errors_xlsx(db, _upload(db, clock, token, staff).content)
