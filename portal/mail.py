"""Sending email over SMTP (STARTTLS when configured), or to the log in development."""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

from flask import current_app

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    maintype: str = "application"
    subtype: str = "pdf"


class MailError(RuntimeError):
    """The message could not be handed to the mail server."""


def build_message(
    to: str,
    subject: str,
    body: str,
    attachments: tuple[Attachment, ...] = (),
    message_id: str | None = None,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = current_app.config["MAIL_FROM"]
    msg["To"] = to
    # A name typed with a line break (an organisation, an activity) must not become a
    # second header line.
    msg["Subject"] = " ".join(subject.split())
    if message_id:
        msg["Message-ID"] = message_id
    msg.set_content(body)
    for a in attachments:
        msg.add_attachment(a.content, maintype=a.maintype, subtype=a.subtype, filename=a.filename)
    return msg


def send_email(
    to: str,
    subject: str,
    body: str,
    attachments: tuple[Attachment, ...] = (),
    message_id: str | None = None,
) -> None:
    cfg = current_app.config
    msg = build_message(to, subject, body, attachments, message_id)
    if cfg["MAIL_BACKEND"] == "console":
        # Development only: the message goes to the terminal that runs `make run`.
        names = "".join(f"\n[attached: {a.filename}]" for a in attachments)
        print(f"\n--- email to {to}: {subject}\n{body}{names}\n--- end of email\n", flush=True)
        return
    try:
        with smtplib.SMTP(
            cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=cfg["MAIL_TIMEOUT_SECONDS"]
        ) as smtp:
            if cfg["MAIL_USE_STARTTLS"]:
                smtp.starttls(context=ssl.create_default_context())
            if cfg["MAIL_USERNAME"]:
                smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"] or "")
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("mail to the configured server failed: %s", type(exc).__name__)
        raise MailError(str(exc)) from exc
