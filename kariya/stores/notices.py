"""Notices from the secretariat to the stores (S-4), e.g. a changed period.

A notice is shown on every store's portal until that store marks it read, and is mailed (the
outbox, kariya.mail.outbox) to every active store that gave an e-mail address. The mail rows are
written in the same transaction as the notice: a refused notice writes nothing and sends nothing.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kariya.errors import Invalid, NotFound
from kariya.mail import outbox
from kariya.mail.models import OutboundMail
from kariya.orm import insert_or_skip
from kariya.settings import Settings
from kariya.stores import lookup
from kariya.stores.models import Store, StoreNotice, StoreNoticeRead
from workflows import mail as mail_wf
from workflows import store as store_wf

TITLE_MAX = 100
BODY_MAX = 4000
TEMPLATE = "notice.txt.jinja2"


def ref_of(notice_id: int) -> str:
    return f"notice:{notice_id}"


def audience(db: Session) -> dict[str, int]:
    """Who a notice published now reaches: active stores, and those of them with an address."""
    stores = lookup.active(db)
    return {"active": len(stores), "mail": sum(1 for s in stores if (s.email or "").strip())}


def validate(title: str, body: str) -> tuple[str, str]:
    title, body = (title or "").strip(), (body or "").strip()
    problems = []
    if not title:
        problems.append("件名を入力してください。")
    elif len(title) > TITLE_MAX:
        problems.append(f"件名は{TITLE_MAX}文字以内で入力してください(現在{len(title)}文字)。")
    if not body:
        problems.append("本文を入力してください。")
    elif len(body) > BODY_MAX:
        problems.append(f"本文は{BODY_MAX:,}文字以内で入力してください(現在{len(body):,}文字)。")
    if problems:
        raise Invalid("お知らせの入力に誤りがあります。" + "".join(problems), details=problems)
    return title, body


def publish(
    db: Session,
    clock,
    *,
    title: str,
    body: str,
    actor: str,
    settings: Settings | None = None,
) -> StoreNotice:
    """Write the notice and queue one mail to every active store with an address. The caller
    sends the outbox after the commit (the "kariya.mail.send" task)."""
    title, body = validate(title, body)
    settings = settings if settings is not None else Settings()
    public_url = settings.public_url.rstrip("/")
    notice = StoreNotice(title=title, body=body, created_by=actor[:100], created_at=clock.now())
    db.add(notice)
    db.flush()
    for store in lookup.active(db):
        if not (store.email or "").strip():
            continue
        subject, text = outbox.render(
            TEMPLATE,
            store=store,
            notice=notice,
            portal_url=public_url + "/store/",
            phone=settings.callcenter.phone,
        )
        outbox.queue(
            db,
            clock,
            ref=ref_of(notice.id),
            to_addr=store.email,
            subject=subject,
            body=text,
            store_id=store.id,
        )
    return notice


def get(db: Session, notice_id: int) -> StoreNotice:
    notice = db.get(StoreNotice, notice_id)
    if notice is None:
        raise NotFound("お知らせが見つかりません。")
    return notice


# --- the store portal (the store id always comes from the session) ---------------------------


def _reads_of(store_id: int):
    return (
        select(StoreNoticeRead.notice_id, StoreNoticeRead.read_at)
        .where(StoreNoticeRead.store_id == store_id)
        .subquery()
    )


def for_store(db: Session, store_id: int) -> list[dict]:
    """Every notice, newest first, with this store's read state."""
    reads = _reads_of(store_id)
    rows = db.execute(
        select(StoreNotice, reads.c.read_at)
        .outerjoin(reads, reads.c.notice_id == StoreNotice.id)
        .order_by(StoreNotice.created_at.desc(), StoreNotice.id.desc())
    ).all()
    return [{"notice": n, "read": read_at is not None, "read_at": read_at} for n, read_at in rows]


def unread(db: Session, store_id: int) -> list[StoreNotice]:
    """The notices this store has not marked read yet, newest first."""
    read_ids = select(StoreNoticeRead.notice_id).where(StoreNoticeRead.store_id == store_id)
    return list(
        db.scalars(
            select(StoreNotice)
            .where(StoreNotice.id.not_in(read_ids))
            .order_by(StoreNotice.created_at.desc(), StoreNotice.id.desc())
        )
    )


def mark_read(db: Session, clock, store_id: int, notice_id: int, actor: str) -> bool:
    """This store has read the notice; True the first time, False when it already had."""
    get(db, notice_id)
    new_id = db.scalar(
        insert_or_skip(db, StoreNoticeRead, on=["notice_id", "store_id"])
        .values(notice_id=notice_id, store_id=store_id, read_by=actor[:100], read_at=clock.now())
        .returning(StoreNoticeRead.id)
    )
    return new_id is not None


# --- the secretariat ----------------------------------------------------------------------


def listing(db: Session) -> list[dict]:
    """Every notice, newest first, with how many active stores have read it and its mails."""
    active = db.scalar(select(func.count()).select_from(Store).where(lookup.ACTIVE))
    reads = dict(
        db.execute(
            select(StoreNoticeRead.notice_id, func.count())
            .join(Store, Store.id == StoreNoticeRead.store_id)
            .where(lookup.ACTIVE)
            .group_by(StoreNoticeRead.notice_id)
        ).all()
    )
    mail_counts: dict[str, dict[str, int]] = {}
    for ref, state, count in db.execute(
        select(OutboundMail.ref, OutboundMail.state, func.count())
        .where(OutboundMail.ref.like("notice:%"))
        .group_by(OutboundMail.ref, OutboundMail.state)
    ).all():
        mail_counts.setdefault(ref, dict.fromkeys(mail_wf.STATES, 0))[state] = count
    notices = db.scalars(
        select(StoreNotice).order_by(StoreNotice.created_at.desc(), StoreNotice.id.desc())
    )
    return [
        {
            "notice": n,
            "read": reads.get(n.id, 0),
            "active": active,
            "mails": mail_counts.get(ref_of(n.id), dict.fromkeys(mail_wf.STATES, 0)),
        }
        for n in notices
    ]


def detail(db: Session, notice_id: int) -> dict:
    """Per store: read or not, and the state of its mail. Every active store is listed, and any
    other store that was mailed this notice (e.g. suspended since)."""
    notice = get(db, notice_id)
    mails = {m.store_id: m for m in outbox.of_ref(db, ref_of(notice.id))}
    reads = {
        r.store_id: r
        for r in db.scalars(select(StoreNoticeRead).where(StoreNoticeRead.notice_id == notice.id))
    }
    stores = db.scalars(
        select(Store)
        .where(lookup.ACTIVE | Store.id.in_([k for k in mails if k is not None]))
        .order_by(Store.code)
    )
    rows = [{"store": s, "read": reads.get(s.id), "mail": mails.get(s.id)} for s in stores]
    return {
        "notice": notice,
        "stores": rows,
        "read": sum(1 for r in rows if r["read"] and r["store"].state == store_wf.S.active),
        "active": sum(1 for r in rows if r["store"].state == store_wf.S.active),
        "mails": outbox.summary(list(mails.values())),
    }


def retry_failed(db: Session, clock, notice_id: int, actor: str) -> int:
    """Put the notice's failed mails back in the outbox; the caller then sends the outbox."""
    notice = get(db, notice_id)
    failed = [m for m in outbox.of_ref(db, ref_of(notice.id)) if m.state == mail_wf.S.failed]
    for m in failed:
        outbox.retry(db, clock, m, actor=actor)
    return len(failed)
