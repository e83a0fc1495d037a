"""Development only: a local SMTP server (aiosmtpd) that keeps every mail it receives as an .eml
file (setting kariya.mail_sink.dir, default var/mail); views/dev.py lists them at /dev/mail.

Started with the web app (kariya/dev/__init__.py) when kariya.mail_sink.port is non-zero
(development.ini points kariya.smtp.* at it); production.ini refuses that setting. Nothing is
delivered anywhere."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import logging
import uuid
from pathlib import Path

from kariya.settings import Settings

log = logging.getLogger(__name__)


def port_of(settings: Settings) -> int:
    return settings.mail_sink.port


def directory_of(settings: Settings) -> Path:
    return settings.mail_sink.dir


class SaveToDirectory:
    """An aiosmtpd handler: each message becomes one .eml file."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        path = self.directory / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        content = envelope.content
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        log.info("mail sink: received", extra={"to": envelope.rcpt_tos, "file": path.name})
        return "250 Message accepted for delivery"


def start(settings: Settings):
    """Start the sink on 127.0.0.1:kariya.mail_sink.port; None when off or the port is taken
    (e.g. a second worker process: the first one's sink receives the mail)."""
    port = port_of(settings)
    if not port:
        return None
    from aiosmtpd.controller import Controller

    controller = Controller(
        SaveToDirectory(directory_of(settings)), hostname="127.0.0.1", port=port
    )
    try:
        controller.start()
    except Exception as exc:  # aiosmtpd re-raises the server thread's error
        log.warning("mail sink not started", extra={"port": port, "error": str(exc)})
        return None
    log.info("mail sink listening", extra={"port": port, "dir": str(directory_of(settings))})
    return controller


def received(directory: Path, limit: int = 100) -> list[dict]:
    """The newest mails first: subject, to, date, body (decoded)."""
    if not directory.is_dir():
        return []
    mails = []
    for path in sorted(directory.glob("*.eml"), reverse=True)[:limit]:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        part = msg.get_body(preferencelist=("plain", "html"))
        mails.append(
            {
                "file": path.name,
                "subject": str(msg.get("Subject", "")),
                "to": str(msg.get("To", "")),
                "from": str(msg.get("From", "")),
                "date": str(msg.get("Date", "")),
                "body": part.get_content() if part is not None else "",
            }
        )
    return mails
