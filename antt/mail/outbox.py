"""The e-mail edge: planned reminders become RFC 5322 messages, sent over SMTP or written as `.eml` files.

Settings come from `ANTT_SMTP_HOST`, `ANTT_SMTP_PORT`, `ANTT_SMTP_USER`, `ANTT_SMTP_PASSWORD`, `ANTT_SMTP_STARTTLS`
and `ANTT_MAIL_FROM` (docs/spec.md §8). Sending is idempotent per message and day: each delivered message is appended at
once to `<out>/mail/sent.jsonl`, and one found there for the same day, cycle, kind and school is skipped (a school's
reminder and overdue notice count as one). A refused recipient (or a whole refused message) is reported and the run
goes on with the others. Messages may carry attachments (`antt.mail.reminders.Attachment`).
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, make_msgid
from pathlib import Path

from antt.errors import AnttError
from antt.mail.reminders import Reminder
from antt.outputs.publish import write_atomic
from antt.text import is_address, one_line

TIMEOUT_S = 30


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


class MailError(AnttError):
    """The mail settings are unusable or the SMTP server cannot be reached or logged into: nothing more can go."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    user: str | None
    password: str | None = field(repr=False)
    starttls: bool
    mail_from: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, default_from: str | None = None) -> SmtpSettings:
        """Read the `ANTT_SMTP_*` variables. STARTTLS is on unless `ANTT_SMTP_STARTTLS` says false; the port
        defaults to 587 with STARTTLS, 25 without; the sender defaults to `default_from` (the office address)."""
        host = environ.get("ANTT_SMTP_HOST", "").strip()
        if not host:
            raise MailError("ANTT_SMTP_HOST is not set (set the ANTT_SMTP_* variables, or use --dry-run DIR)")
        starttls = _flag(environ.get("ANTT_SMTP_STARTTLS", "true"))
        port_text = environ.get("ANTT_SMTP_PORT", "").strip() or ("587" if starttls else "25")
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise MailError(f"ANTT_SMTP_PORT {port_text!r} is not a port number")
        user = environ.get("ANTT_SMTP_USER", "").strip() or None
        password = environ.get("ANTT_SMTP_PASSWORD") or None
        if user and not password:
            raise MailError("ANTT_SMTP_USER is set but ANTT_SMTP_PASSWORD is not")
        if not f"{user or ''}{password or ''}".isascii():
            raise MailError("ANTT_SMTP_USER and ANTT_SMTP_PASSWORD must be ASCII (Python's smtplib sends no other)")
        return cls(host=host, port=int(port_text), user=user, password=password, starttls=starttls,
                   mail_from=sender_address(environ, default_from))


def sender_address(environ: Mapping[str, str] = os.environ, default_from: str | None = None) -> str:
    mail_from = environ.get("ANTT_MAIL_FROM", "").strip() or default_from or ""
    if not is_address(mail_from):
        raise MailError(f"ANTT_MAIL_FROM {mail_from!r} is not an e-mail address" if mail_from
                        else "ANTT_MAIL_FROM is not set")
    return mail_from


def _flag(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise MailError(f"ANTT_SMTP_STARTTLS {text!r}: expected true or false")


@dataclass(frozen=True)
class Delivery:
    """What happened to one planned message: sent (perhaps with some recipients refused), skipped (already sent
    to this school today), failed (nothing delivered, `reason` says why) or written (dry run, `path`)."""

    kind: str
    school_code: str
    status: str
    recipients: tuple[str, ...]
    refused: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    message_id: str = ""
    path: str = ""


def build_message(reminder: Reminder, mail_from: str, now: datetime) -> EmailMessage:
    """A UTF-8 message: plain text, the HTML alternative when there is one, then the attachments (text ones in
    UTF-8). Header values go through `one_line`, so a CR/LF smuggled into a school name cannot start a header."""
    msg = EmailMessage(policy=POLICY)
    msg["Subject"] = one_line(reminder.subject)
    msg["From"] = Address(display_name=one_line(reminder.sender_name), addr_spec=mail_from)
    msg["To"] = [Address(addr_spec=a) for a in reminder.to]
    if reminder.reply_to:
        msg["Reply-To"] = Address(addr_spec=reminder.reply_to)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=mail_from.rpartition("@")[2])
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: out-of-office robots do not answer it
    msg.set_content(reminder.text)
    if reminder.html:
        msg.add_alternative(reminder.html, subtype="html")
    for attachment in reminder.attachments:  # the first one turns the message into multipart/mixed
        maintype, _, subtype = attachment.content_type.partition("/")
        msg.add_attachment(attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename,
                           params={"charset": "utf-8"} if maintype == "text" else None)
    return msg


class SentLog:
    """`<out>/mail/sent.jsonl`: one line per delivered message, appended and flushed right after the server took it."""

    def __init__(self, out: Path | str):
        self.path = Path(out) / "mail" / "sent.jsonl"

    def reminded(self, day: date, cycle_id: str) -> set[tuple[str, str]]:
        """(kind, school_code) already delivered on `day` for the cycle; a torn last line (a crash mid-write) is
        ignored."""
        if not self.path.exists():
            return set()
        done = set()
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if entry.get("day") == day.isoformat() and entry.get("cycle") == cycle_id:
                done.add((entry.get("once_a_day") or entry.get("kind", ""), entry.get("school_code", "")))
        return done

    def append(self, day: date, cycle_id: str, reminder: Reminder, delivery: Delivery, at: datetime) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"day": day.isoformat(), "cycle": cycle_id, "kind": reminder.kind,
                           "once_a_day": reminder.once_a_day or reminder.kind,
                           "school_code": reminder.school_code, "recipients": list(delivery.recipients),
                           "refused": delivery.refused, "message_id": delivery.message_id,
                           "sent_at": at.isoformat(timespec="seconds")}, ensure_ascii=False)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())


def _key(message: Reminder) -> tuple[str, str]:
    return message.once_a_day or message.kind, message.school_code


def _unsent(messages: Iterable[Reminder], done: set[tuple[str, str]], results: list[Delivery]) -> Iterator[Reminder]:
    """The messages not yet delivered today, in order; each one that was goes into `results` as skipped."""
    for message in messages:
        if _key(message) in done:
            results.append(Delivery(message.kind, message.school_code, "skipped", message.to,
                                    reason="already sent today"))
        else:
            yield message


def deliver(reminders: Iterable[Reminder], out: Path | str, cycle_id: str, day: date, now: datetime,
            settings: SmtpSettings) -> list[Delivery]:
    """Send every reminder not yet delivered today over one SMTP session (reconnecting after a dropped
    connection). Server refusals are per message and reported; an unreachable server or a refused login is a
    MailError (what was sent before it is already in the log)."""
    log = SentLog(out)
    done = log.reminded(day, cycle_id)
    results: list[Delivery] = []
    smtp: smtplib.SMTP | None = None
    try:
        for reminder in _unsent(reminders, done, results):
            msg = build_message(reminder, settings.mail_from, now)
            smtp = smtp or _connect(settings)
            try:
                refused = smtp.send_message(msg, from_addr=settings.mail_from, to_addrs=list(reminder.to))
            except smtplib.SMTPRecipientsRefused as exc:
                results.append(Delivery(reminder.kind, reminder.school_code, "failed", (),
                                        refused=_replies(exc.recipients), reason="every recipient refused"))
                continue
            except smtplib.SMTPResponseException as exc:  # sender refused, message refused, …
                results.append(Delivery(reminder.kind, reminder.school_code, "failed", (),
                                        reason=_reply(exc.smtp_code, exc.smtp_error)))
                continue
            except OSError as exc:  # the connection dropped (smtplib's other errors are OSErrors too): reconnect
                results.append(Delivery(reminder.kind, reminder.school_code, "failed", (), reason=str(exc)))
                smtp.close()
                smtp = None
                continue
            accepted = tuple(a for a in reminder.to if a not in refused)
            delivery = Delivery(reminder.kind, reminder.school_code, "sent", accepted, refused=_replies(refused),
                                message_id=msg["Message-ID"])
            log.append(day, cycle_id, reminder, delivery, now)
            done.add(_key(reminder))
            results.append(delivery)
    finally:
        if smtp is not None:
            _quit(smtp)
    return results


def write_eml(reminders: Iterable[Reminder], folder: Path | str, out: Path | str, cycle_id: str, day: date,
              now: datetime, mail_from: str) -> list[Delivery]:
    """The dry run: each message a real run would send now, as `<folder>/<cycle>_<day>_<kind>_<school>.eml`.
    Nothing is sent and the sent-mail log is only read."""
    folder = Path(folder)
    done = SentLog(out).reminded(day, cycle_id)
    results: list[Delivery] = []
    for reminder in _unsent(reminders, done, results):
        msg = build_message(reminder, mail_from, now)
        name = "_".join(filter(None, [cycle_id, day.isoformat(), reminder.kind, reminder.school_code])) + ".eml"
        write_atomic(folder / name, msg.as_bytes())
        results.append(Delivery(reminder.kind, reminder.school_code, "written", reminder.to,
                                message_id=msg["Message-ID"], path=str(folder / name)))
    return results


@dataclass(frozen=True)
class Outbox:
    """Where one run's messages go: over SMTP with `settings`, or as `.eml` files in `dry_run`. The sent-mail log
    under `out` is keyed by `cycle_id` and `day`."""

    out: Path
    cycle_id: str
    day: date
    now: datetime
    mail_from: str
    settings: SmtpSettings | None = None
    dry_run: Path | None = None

    @classmethod
    def open(cls, out: Path | str, cycle_id: str, day: date, now: datetime, default_from: str,
             dry_run: Path | str | None = None, environ: Mapping[str, str] = os.environ) -> Outbox:
        """Check the settings before anything is rendered (MailError): a dry run needs only a sender address."""
        if dry_run:
            return cls(Path(out), cycle_id, day, now, sender_address(environ, default_from), dry_run=Path(dry_run))
        settings = SmtpSettings.from_env(environ, default_from)
        return cls(Path(out), cycle_id, day, now, settings.mail_from, settings=settings)

    def sent_today(self, kind: str, school_code: str = "") -> bool:
        return (kind, school_code) in SentLog(self.out).reminded(self.day, self.cycle_id)

    def send(self, messages: Iterable[Reminder]) -> list[Delivery]:
        """`deliver` the messages, or in a dry run `write_eml` them."""
        if self.settings is None:
            return write_eml(messages, self.dry_run, self.out, self.cycle_id, self.day, self.now, self.mail_from)
        return deliver(messages, self.out, self.cycle_id, self.day, self.now, self.settings)


def tally(deliveries: list[Delivery]) -> dict:
    """Counts per status, refused addresses, and every delivery as a plain dict (for the flow's return value)."""
    counts = {s: sum(d.status == s for d in deliveries) for s in ("sent", "skipped", "failed", "written")}
    refused = sum(len(d.refused) for d in deliveries)
    return {**counts, "refused": refused, "deliveries": [asdict(d) for d in deliveries]}


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    where = f"SMTP {settings.host}:{settings.port}"
    try:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=TIMEOUT_S)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"{where}: cannot connect ({exc})") from None
    try:
        smtp.ehlo()
        if settings.starttls:
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if settings.user:
            smtp.login(settings.user, settings.password or "")
    except smtplib.SMTPNotSupportedError as exc:
        _quit(smtp)
        hint = "" if settings.starttls else " (does it need ANTT_SMTP_STARTTLS=true?)"
        raise MailError(f"{where}: {exc}{hint}") from None
    except smtplib.SMTPAuthenticationError as exc:
        _quit(smtp)
        raise MailError(f"{where}: login as {settings.user} refused ({_reply(exc.smtp_code, exc.smtp_error)})") \
            from None
    except (OSError, ssl.SSLError, smtplib.SMTPException) as exc:
        _quit(smtp)
        raise MailError(f"{where}: {exc}") from None
    return smtp


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


def _reply(code: int, text: bytes | str) -> str:
    return f"{code} {text.decode('utf-8', 'replace') if isinstance(text, bytes) else text}"


def _replies(refused: Mapping[str, tuple[int, bytes]]) -> dict[str, str]:
    return {addr: _reply(code, text) for addr, (code, text) in refused.items()}
