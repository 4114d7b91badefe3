"""An e-mail as antt writes it: a `Message` (recipients, subject, plain text, an optional HTML alternative and
attachments), its words rendered from a `report_templates/mail_*.j2` template, and its RFC 5322 bytes.

Every mail is one: reminders, the analyst's summary, the leadership report, scorecards and failure notices. Where
a message goes (SMTP or a `.eml` file) and whether it already went today is `antt.mail.outbox`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, make_msgid

from antt.outputs.render import template
from antt.text import nfc, one_line


@dataclass(frozen=True)
class Attachment:
    """A file a message carries: the name its recipient sees, its MIME type (`application/pdf`) and its bytes."""

    filename: str
    content_type: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class Message:
    """One e-mail to send. `kind` says what it is: reminder / overdue (to a school), summary (to the analyst),
    report (to leadership), scorecard (to a school), failure (to the analyst); `school_code` is '' when it is not
    about one school. Messages with the same `once_a_day` (default: their kind) go to the same school at most once
    a day; `reply_to` '' adds no Reply-To."""

    kind: str
    school_code: str
    to: tuple[str, ...]
    subject: str
    text: str
    html: str | None
    sender_name: str
    reply_to: str
    attachments: tuple[Attachment, ...] = ()
    once_a_day: str = ""


def render_text(name: str, **context) -> tuple[str, str]:
    """A plain-text mail template's `subject` (set at its top, made one line) and its body, NFC."""
    module = template(name).make_module(context)
    return nfc(one_line(str(module.subject))), nfc(str(module).strip() + "\n")


def render_html(name: str, **context) -> str:
    """An HTML mail template (`*.html.j2`, autoescaped), NFC."""
    return nfc(template(name).render(**context))


class _Policy(EmailPolicy):
    """`email.policy.SMTP`, except that a non-ASCII Subject is folded by `email.header.Header`: the folder of
    Python before the fix of CPython gh-144156 drops the space where it splits a header between two encoded words
    ("2026-H1: kết" arrives as "2026-H1:kết")."""

    def fold(self, name: str, value: str) -> str:
        if name.lower() == "subject" and not str(value).isascii():
            folded = Header(str(value), "utf-8", header_name=name).encode(linesep=self.linesep,
                                                                          maxlinelen=self.max_line_length)
            return f"{name}: {folded}{self.linesep}"
        return super().fold(name, value)

    def fold_binary(self, name: str, value: str) -> bytes:
        if name.lower() == "subject" and not str(value).isascii():
            return self.fold(name, value).encode("ascii")
        return super().fold_binary(name, value)


POLICY = _Policy(linesep="\r\n")  # email.policy.SMTP with the Subject fix


def build_message(message: Message, mail_from: str, now: datetime) -> EmailMessage:
    """A UTF-8 message: plain text, the HTML alternative when there is one, then the attachments (text ones in
    UTF-8). Header values go through `one_line`, so a CR/LF smuggled into a school name cannot start a header."""
    msg = EmailMessage(policy=POLICY)
    msg["Subject"] = one_line(message.subject)
    msg["From"] = Address(display_name=one_line(message.sender_name), addr_spec=mail_from)
    msg["To"] = [Address(addr_spec=a) for a in message.to]
    if message.reply_to:
        msg["Reply-To"] = Address(addr_spec=message.reply_to)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=mail_from.rpartition("@")[2])
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: out-of-office robots do not answer it
    msg.set_content(message.text)
    if message.html:
        msg.add_alternative(message.html, subtype="html")
    for attachment in message.attachments:  # the first one turns the message into multipart/mixed
        maintype, _, subtype = attachment.content_type.partition("/")
        msg.add_attachment(attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename,
                           params={"charset": "utf-8"} if maintype == "text" else None)
    return msg
