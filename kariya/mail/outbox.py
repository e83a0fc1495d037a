"""The mail outbox. A mail is written in the same transaction as what it tells (a notice, a bank
account request), so it is never sent for something that was rolled back; a task sends the
pending ones over SMTP afterwards (settings kariya.smtp.*) and retries until the last attempt.

Delivery is at least once: if the commit after a successful send fails, the mail is sent again
on the next run."""

from __future__ import annotations

import contextlib
import email.utils
import functools
import smtplib
from email.message import EmailMessage

import jinja2
from sqlalchemy import select
from sqlalchemy.orm import Session

from kariya.errors import Conflict
from kariya.mail.models import OutboundMail
from kariya.orm import insert_or_skip
from kariya.settings import PROJECT_ROOT, Settings
from workflows import mail as mail_wf
from workflows.binding import fire

ACTOR = "system:mail"


@functools.cache
def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(PROJECT_ROOT / "templates" / "mail"),
        autoescape=False,  # plain-text mail
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )


def render(name: str, **values) -> tuple[str, str]:
    """A mail template under templates/mail/: its first line is the subject, the rest the body."""
    text = _templates().get_template(name).render(**values)
    subject, _, body = text.partition("\n")
    return subject.strip(), body.lstrip("\n")


def queue(
    db: Session,
    clock,
    *,
    ref: str,
    to_addr: str,
    subject: str,
    body: str,
    store_id: int | None = None,
) -> bool:
    """Put a mail in the outbox; False if the same `ref` was already queued to this address."""
    to_addr = (to_addr or "").strip()
    if not to_addr:
        return False
    new_id = db.scalar(
        insert_or_skip(db, OutboundMail, on=["ref", "to_addr"])
        .values(
            ref=ref[:100],
            store_id=store_id,
            to_addr=to_addr[:254],
            subject=subject[:200],
            body=body,
            state=mail_wf.S.pending,
            attempts=0,
            last_error="",
            created_at=clock.now(),
        )
        .returning(OutboundMail.id)
    )
    return new_id is not None


def message(mail: OutboundMail, settings: Settings) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.smtp.from_
    msg["To"] = mail.to_addr
    msg["Subject"] = mail.subject
    msg["Date"] = email.utils.format_datetime(mail.created_at)
    msg["Message-ID"] = email.utils.make_msgid(idstring=f"kariya-{mail.id}")
    msg.set_content(mail.body, charset="utf-8")
    return msg


def _connect(settings: Settings) -> smtplib.SMTP:
    host = settings.smtp.host
    port = settings.smtp.port
    timeout = settings.smtp.timeout_seconds
    smtp = smtplib.SMTP(host, port, timeout=timeout)
    if settings.smtp.starttls:
        smtp.starttls()
    if settings.smtp.username:
        smtp.login(settings.smtp.username, settings.smtp.password)
    return smtp


def send_pending(db: Session, clock, settings: Settings, *, limit: int = 500) -> dict[str, int]:
    """Send what waits in the outbox. Rows are locked (SKIP LOCKED), so two workers never send
    one mail twice at the same time. A mail that fails its last attempt becomes `failed` and is
    shown to the secretariat, who can retry it."""
    if not settings.smtp.host:
        return {"sent": 0, "failed": 0, "waiting": 0}
    max_attempts = settings.smtp.max_attempts
    query = (
        select(OutboundMail)
        .where(OutboundMail.state == mail_wf.S.pending)
        .order_by(OutboundMail.id)
    )
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    mails = list(db.scalars(query.limit(limit)))
    done = {"sent": 0, "failed": 0, "waiting": 0}
    if not mails:
        return done
    now = clock.now()
    smtp = None
    try:
        for mail in mails:
            try:
                if smtp is None:
                    smtp = _connect(settings)
                smtp.send_message(message(mail, settings))
            except (OSError, smtplib.SMTPException) as exc:
                mail.attempts += 1
                mail.last_error = f"{type(exc).__name__}: {exc}"[:500]
                if isinstance(exc, smtplib.SMTPServerDisconnected | ConnectionError):
                    smtp = None
                if mail.attempts >= max_attempts:
                    fire(
                        db,
                        mail_wf.MACHINE,
                        mail,
                        "give_up",
                        actor=ACTOR,
                        now=now,
                        reason=mail.last_error,
                    )
                    done["failed"] += 1
                else:
                    done["waiting"] += 1
                continue
            mail.attempts += 1
            mail.sent_at = now
            fire(db, mail_wf.MACHINE, mail, "deliver", actor=ACTOR, now=now)
            done["sent"] += 1
    finally:
        if smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                smtp.quit()
    db.flush()
    return done


def retry(db: Session, clock, mail: OutboundMail, *, actor: str) -> None:
    """Put a failed mail back in the outbox (e.g. after the store corrected its address); not
    one whose address and body the erasure after the hand-over removed (kariya.reports.retention
    writes `erased:<id>` as its address)."""
    if mail.to_addr.startswith("erased:"):
        raise Conflict("個人情報の消去により、このメールは再送できません。", code="MAIL_ERASED")
    fire(db, mail_wf.MACHINE, mail, "retry", actor=actor, now=clock.now())
    mail.attempts = 0
    db.flush()


def of_ref(db: Session, ref: str) -> list[OutboundMail]:
    return list(
        db.scalars(select(OutboundMail).where(OutboundMail.ref == ref).order_by(OutboundMail.id))
    )


def summary(mails: list[OutboundMail]) -> dict[str, int]:
    counts = dict.fromkeys(mail_wf.STATES, 0)
    for m in mails:
        counts[m.state] += 1
    return counts
