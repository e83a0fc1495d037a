"""Versions of the documents the city approves (C-4, Q-3, S-3; DESIGN.md sections 2, 3, 5.2).

The secretariat writes a version (Markdown, with a change note), edits it while it is a draft,
submits it; a city approver approves it or asks for changes with a reason; the secretariat
publishes it, which supersedes the version published before. The rules:
- one unpublished version per document at a time (DRAFT_EXISTS; a partial unique index too);
- a published or superseded version is never edited: a new version is written (restoring an
  old text makes a new version from it);
- nobody approves, or asks for changes to, a version they wrote, edited or submitted
  (SAME_PERSON, by account), whatever their role; then each event has its role (FORBIDDEN);
- every move goes through workflows.document (a compare-and-set: of two operators submitting
  the same draft at once, one wins and the other gets BAD_TRANSITION) and is recorded.
Publishing a store manual tells every store (S-4, kariya.stores.notices) and leaves the built
material sets out of date until rebuilt (kariya.materials.jobs compares the version).
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kariya import roles
from kariya.documents import kinds, markdown, placeholders
from kariya.documents.models import Document, DocumentVersion
from kariya.errors import Conflict, Forbidden, IllegalTransition, Invalid, NotFound
from kariya.settings import Settings
from kariya.stores import notices
from kariya.stores.models import StoreNotice
from workflows import document as document_wf
from workflows.binding import TransitionRecord, fire, label

NOTE_MAX = 500
REASON_MAX = 1000

# The role that fires each event a person asks for (redraft and supersede follow from others).
EVENTS: dict[str, str] = {
    "submit": roles.SECRETARIAT,
    "approve": roles.CITY,
    "request_changes": roles.CITY,
    "publish": roles.SECRETARIAT,
}
DECISIONS = ("approve", "request_changes")


class DraftExists(Conflict):
    code = "DRAFT_EXISTS"
    message = (
        "公開前の版がすでにあります。その版を修正するか、公開してから新しい版を作成してください。"
    )


class SamePerson(Conflict):
    code = "SAME_PERSON"
    message = "自分が作成・編集・申請した版は承認できません(ダブルチェック)。別の担当者が判断してください。"


class BadTransition(Conflict):
    code = "BAD_TRANSITION"


class NotEditable(Conflict):
    code = "NOT_EDITABLE"
    message = "承認申請中・承認済み・公開済みの版は編集できません。"


# --- reading ---------------------------------------------------------------------------------


def document(db: Session, kind: str) -> Document:
    kinds.get(kind)
    found = db.scalar(select(Document).where(Document.kind == kind))
    if found is None:
        raise NotFound("この文書はまだ登録されていません(kariya initdb で登録されます)。")
    return found


def _in_state(db: Session, kind: str, states) -> DocumentVersion | None:
    return db.scalar(
        select(DocumentVersion)
        .join(Document, Document.id == DocumentVersion.document_id)
        .where(Document.kind == kind, DocumentVersion.state.in_(states))
    )


def published(db: Session, kind: str) -> DocumentVersion | None:
    """The version in use, or None before one is published."""
    return _in_state(db, kind, [document_wf.S.published])


def unpublished(db: Session, kind: str) -> DocumentVersion | None:
    """The version on its way (draft, submitted, approved, changes requested), or None."""
    return _in_state(db, kind, document_wf.UNPUBLISHED)


def version(db: Session, kind: str, number: int | str) -> DocumentVersion:
    doc = document(db, kind)
    found = (
        db.scalar(
            select(DocumentVersion).where(
                DocumentVersion.document_id == doc.id, DocumentVersion.number == int(number)
            )
        )
        if str(number).isdigit()
        else None
    )
    if found is None:
        raise NotFound(f"{kinds.get(kind).title}の第{number}版はありません。")
    return found


def base_of(db: Session, ver: DocumentVersion) -> DocumentVersion | None:
    """What a version is compared with: the published version, for one not yet published;
    for a published or replaced one, the version published before it."""
    if ver.state in document_wf.UNPUBLISHED:
        return db.scalar(
            select(DocumentVersion).where(
                DocumentVersion.document_id == ver.document_id,
                DocumentVersion.state == document_wf.S.published,
            )
        )
    return db.scalar(
        select(DocumentVersion)
        .where(
            DocumentVersion.document_id == ver.document_id,
            DocumentVersion.number < ver.number,
            DocumentVersion.published_at.is_not(None),
        )
        .order_by(DocumentVersion.number.desc())
        .limit(1)
    )


def history(db: Session, kind: str) -> list[DocumentVersion]:
    """Every version of a document, newest first."""
    doc = document(db, kind)
    return list(
        db.scalars(
            select(DocumentVersion)
            .where(DocumentVersion.document_id == doc.id)
            .order_by(DocumentVersion.number.desc())
        )
    )


def events_of(db: Session, versions: list[DocumentVersion]) -> dict[int, list[TransitionRecord]]:
    """Each version's recorded moves (who, when, from, to, why), oldest first."""
    ids = [v.id for v in versions]
    found: dict[int, list[TransitionRecord]] = {i: [] for i in ids}
    if ids:
        for record in db.scalars(
            select(TransitionRecord)
            .where(
                TransitionRecord.machine == document_wf.MACHINE.kariya_name,
                TransitionRecord.entity_id.in_(ids),
            )
            .order_by(TransitionRecord.at, TransitionRecord.id)
        ):
            found[record.entity_id].append(record)
    return found


def overview(db: Session) -> list[dict]:
    """Each document with its published and unpublished version numbers (GET staff/documents)."""
    rows = db.execute(
        select(Document, DocumentVersion)
        .outerjoin(
            DocumentVersion,
            (DocumentVersion.document_id == Document.id)
            & DocumentVersion.state.in_([document_wf.S.published, *document_wf.UNPUBLISHED]),
        )
        .order_by(Document.id)
    ).all()
    found: dict[str, dict] = {}
    for doc, ver in rows:
        entry = found.setdefault(
            doc.kind,
            {
                "kind": doc.kind,
                "title": doc.title,
                "published_version": None,
                "draft_version": None,
                "draft_state": None,
            },
        )
        if ver is None:
            continue
        if ver.state == document_wf.S.published:
            entry["published_version"] = ver.number
        else:
            entry["draft_version"], entry["draft_state"] = ver.number, ver.state
    order = list(kinds.KINDS)
    return sorted(
        found.values(), key=lambda e: order.index(e["kind"]) if e["kind"] in order else 99
    )


def awaiting(db: Session) -> list[tuple[Document, DocumentVersion]]:
    """Versions waiting for the city's decision, the longest waiting first."""
    rows = db.execute(
        select(Document, DocumentVersion)
        .join(DocumentVersion, DocumentVersion.document_id == Document.id)
        .where(DocumentVersion.state == document_wf.S.submitted)
        .order_by(DocumentVersion.submitted_at)
    ).all()
    return [(doc, ver) for doc, ver in rows]


def state_label(state: str) -> str:
    return label(document_wf.MACHINE, state)


# --- writing ---------------------------------------------------------------------------------


def validate(body: str, change_note: str) -> tuple[str, str]:
    """The body and change note as stored; Invalid (422, every problem in Japanese) otherwise."""
    body = markdown.clean(body)
    note = (change_note or "").strip()
    problems = markdown.problems(body)
    names = placeholders.unknown(body)
    if names:
        problems.append(
            "使えない差し込み項目があります: "
            + "、".join("{" + n + "}" for n in names)
            + "。使える項目は編集画面の一覧をご覧ください。"
        )
    if not note:
        problems.append("変更内容の説明(変更メモ)を入力してください。")
    elif len(note) > NOTE_MAX:
        problems.append(f"変更メモは{NOTE_MAX}文字以内にしてください(現在{len(note)}文字)。")
    if problems:
        raise Invalid("文書の内容に誤りがあります。" + "".join(problems), details=problems)
    return body, note


def create(
    db: Session, clock, kind: str, *, body: str, change_note: str, actor: str
) -> DocumentVersion:
    """A new draft version, numbered after the last one."""
    body, note = validate(body, change_note)
    doc = db.scalar(select(Document).where(Document.id == document(db, kind).id).with_for_update())
    if unpublished(db, kind) is not None:
        raise DraftExists()
    number = (
        db.scalar(
            select(func.coalesce(func.max(DocumentVersion.number), 0)).where(
                DocumentVersion.document_id == doc.id
            )
        )
        + 1
    )
    now = clock.now()
    new = DocumentVersion(
        document_id=doc.id,
        number=number,
        state=document_wf.S.draft,
        body=body,
        change_note=note,
        created_by=actor,
        created_at=now,
        updated_by=actor,
        updated_at=now,
        decision_note="",
    )
    db.add(new)
    try:
        with db.begin_nested():  # the partial unique index settles a race between two tabs
            db.flush()
    except IntegrityError:
        raise DraftExists() from None
    return new


def edit(
    db: Session, clock, ver: DocumentVersion, *, body: str, change_note: str, actor: str
) -> DocumentVersion:
    """Change a draft's text (a version sent back with changes requested becomes a draft
    again); any other version is refused."""
    body, note = validate(body, change_note)
    now = clock.now()
    if ver.state == document_wf.S.changes_requested:
        _fire(db, ver, "redraft", actor=actor, now=now, reason="修正依頼を受けて修正")
    elif ver.state != document_wf.S.draft:
        raise NotEditable()
    ver.body, ver.change_note, ver.updated_by, ver.updated_at = body, note, actor, now
    db.flush()
    return ver


def _fire(db: Session, ver: DocumentVersion, event: str, **kw) -> str:
    try:
        return fire(db, document_wf.MACHINE, ver, event, **kw)
    except IllegalTransition as exc:
        raise BadTransition(exc.message, details=exc.details) from None


def _hands(ver: DocumentVersion) -> set[str]:
    """The accounts that wrote, edited or submitted the version."""
    return {a for a in (ver.created_by, ver.updated_by, ver.submitted_by) if a}


@dataclasses.dataclass
class Outcome:
    state: str
    notice: StoreNotice | None = None  # the notice sent to the stores (a store manual published)


def act(
    db: Session,
    clock,
    ver: DocumentVersion,
    event: str,
    *,
    actor: str,
    role: str,
    note: str = "",
    settings: Settings | None = None,
) -> Outcome:
    """Fire a person's event (submit, approve, request_changes, publish) on a version, as
    `actor` (their account) in `role`."""
    if event not in EVENTS:
        raise Invalid(
            "操作は submit・approve・request_changes・publish のいずれかを指定してください。"
        )
    note = (note or "").strip()
    if event in DECISIONS and actor in _hands(ver):
        raise SamePerson()
    if role != EVENTS[event]:
        raise Forbidden("この操作を行う権限がありません。")
    if event == "request_changes" and not note:
        raise Invalid("修正を依頼する理由を入力してください。", code="REASON_REQUIRED")
    if len(note) > REASON_MAX:
        raise Invalid(f"理由・コメントは{REASON_MAX}文字以内にしてください。")
    now = clock.now()
    if event == "publish":
        return _publish(db, clock, ver, actor=actor, note=note, settings=settings)
    state = _fire(db, ver, event, actor=actor, now=now, reason=note)
    if event == "submit":
        ver.submitted_by, ver.submitted_at = actor, now
    else:
        ver.decided_by, ver.decided_at, ver.decision_note = actor, now, note
        if event == "approve":
            ver.approved_by, ver.approved_at = actor, now
    db.flush()
    return Outcome(state)


def _publish(
    db: Session, clock, ver: DocumentVersion, *, actor: str, note: str, settings: Settings | None
) -> Outcome:
    doc = db.get(Document, ver.document_id)
    now = clock.now()
    if ver.state != document_wf.S.approved:
        _fire(db, ver, "publish", actor=actor, now=now, reason=note)  # refused: says why
    previous = published(db, doc.kind)
    if previous is not None:
        _fire(db, previous, "supersede", actor=actor, now=now, reason=f"第{ver.number}版の公開")
        previous.superseded_at = now
        db.flush()
    state = _fire(db, ver, "publish", actor=actor, now=now, reason=note)
    ver.published_by, ver.published_at = actor, now
    db.flush()
    notice = None
    if doc.kind == kinds.STORE_MANUAL and previous is not None:
        notice = _tell_stores(db, clock, ver, actor=actor, settings=settings)
    return Outcome(state, notice)


def _tell_stores(
    db: Session, clock, ver: DocumentVersion, *, actor: str, settings: Settings | None
) -> StoreNotice:
    """S-4: every store is told that its manual changed, and what changed."""
    body = (
        f"取扱店マニュアルを改訂しました(第{ver.number}版)。\n\n"
        f"主な変更点: {ver.change_note}\n\n"
        "登録店ポータルの「掲示物のダウンロード」から、新しいマニュアルをご確認ください。"
        "お店のスタッフの皆さまで共有をお願いします。"
    )
    return notices.publish(
        db,
        clock,
        title=f"取扱店マニュアル改訂のお知らせ(第{ver.number}版)",
        body=body,
        actor=actor,
        settings=settings,
    )
