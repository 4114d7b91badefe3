"""The outbox: the one place antt speaks SMTP. Messages (`antt.mail.message`) are sent over one SMTP session, or
written as `.eml` files for a dry run.

Settings come from `ANTT_SMTP_HOST`, `ANTT_SMTP_PORT`, `ANTT_SMTP_USER`, `ANTT_SMTP_PASSWORD`, `ANTT_SMTP_STARTTLS`
and `ANTT_MAIL_FROM` (docs/spec.md §8). Sending a cycle's mail is idempotent per message and day: every delivered
message is appended at once to `<out>/mail/sent.jsonl`, and one found there for the same day, cycle, kind and school
is skipped (a school's reminder and overdue notice count as one). A refused recipient (or a whole refused message)
is reported and the run goes on with the others. A failure notice is sent with no sent-mail log (`send_now`): every
failure is news.
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path

from antt.errors import AnttError
from antt.i18n import _
from antt.mail.message import Message, build_message
from antt.outputs.publish import write_atomic
from antt.text import is_address

TIMEOUT_S = 30


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
            raise MailError(_("ANTT_SMTP_HOST is not set (set the ANTT_SMTP_* variables, or use --dry-run DIR)"))
        starttls = _flag(environ.get("ANTT_SMTP_STARTTLS", "true"))
        port_text = environ.get("ANTT_SMTP_PORT", "").strip() or ("587" if starttls else "25")
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise MailError(_("ANTT_SMTP_PORT {port!r} is not a port number").format(port=port_text))
        user = environ.get("ANTT_SMTP_USER", "").strip() or None
        password = environ.get("ANTT_SMTP_PASSWORD") or None
        if user and not password:
            raise MailError(_("ANTT_SMTP_USER is set but ANTT_SMTP_PASSWORD is not"))
        if not f"{user or ''}{password or ''}".isascii():
            raise MailError(_("ANTT_SMTP_USER and ANTT_SMTP_PASSWORD must be ASCII (Python's smtplib sends no "
                              "other)"))
        return cls(host=host, port=int(port_text), user=user, password=password, starttls=starttls,
                   mail_from=sender_address(environ, default_from))


def sender_address(environ: Mapping[str, str] = os.environ, default_from: str | None = None) -> str:
    mail_from = environ.get("ANTT_MAIL_FROM", "").strip() or default_from or ""
    if not is_address(mail_from):
        raise MailError(_("ANTT_MAIL_FROM {address!r} is not an e-mail address").format(address=mail_from)
                        if mail_from else _("ANTT_MAIL_FROM is not set"))
    return mail_from


def _flag(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise MailError(_("ANTT_SMTP_STARTTLS {value!r}: expected true or false").format(value=text))


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

    @property
    def detail(self) -> str:
        """Why it did not go, each refused recipient with the server's reply, and (dry run) its file: one line."""
        refused = "; ".join(f"{a}: {reply}" for a, reply in self.refused.items())
        return "; ".join(filter(None, [self.reason, refused and _("refused {addresses}").format(addresses=refused),
                                       self.path]))


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

    def first_sent(self, cycle_id: str, kind: str) -> dict[str, datetime]:
        """School code → when the cycle's first message of `kind` reached it (a torn line is ignored)."""
        if not self.path.exists():
            return {}
        first: dict[str, datetime] = {}
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
                at = datetime.fromisoformat(entry["sent_at"])
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                continue
            if entry.get("cycle") == cycle_id and entry.get("kind") == kind:
                code = entry.get("school_code", "")
                first[code] = min(first.get(code, at), at)
        return first

    def append(self, day: date, cycle_id: str, message: Message, delivery: Delivery, at: datetime) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"day": day.isoformat(), "cycle": cycle_id, "kind": message.kind,
                           "once_a_day": message.once_a_day or message.kind,
                           "school_code": message.school_code, "recipients": list(delivery.recipients),
                           "refused": delivery.refused, "message_id": delivery.message_id,
                           "sent_at": at.isoformat(timespec="seconds")}, ensure_ascii=False)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())


def _key(message: Message) -> tuple[str, str]:
    return message.once_a_day or message.kind, message.school_code


def _unsent(messages: Iterable[Message], done: set[tuple[str, str]], results: list[Delivery]) -> Iterator[Message]:
    """The messages not yet delivered today, in order; each one that was goes into `results` as skipped."""
    for message in messages:
        if _key(message) in done:
            results.append(Delivery(message.kind, message.school_code, "skipped", message.to,
                                    reason=_("already sent today")))
        else:
            yield message


def _session(messages: Iterable[Message], settings: SmtpSettings, now: datetime
             ) -> Iterator[tuple[Message, Delivery]]:
    """Send each message over one SMTP session (reconnecting after a dropped connection), yielding its delivery as
    soon as the server answered. Server refusals are per message; an unreachable server or a refused login is a
    MailError."""
    smtp: smtplib.SMTP | None = None
    try:
        for message in messages:
            msg = build_message(message, settings.mail_from, now)
            smtp = smtp or _connect(settings)
            try:
                refused = smtp.send_message(msg, from_addr=settings.mail_from, to_addrs=list(message.to))
            except smtplib.SMTPRecipientsRefused as exc:
                yield message, Delivery(message.kind, message.school_code, "failed", (),
                                        refused=_replies(exc.recipients), reason=_("every recipient refused"))
                continue
            except smtplib.SMTPResponseException as exc:  # sender refused, message refused, …
                yield message, Delivery(message.kind, message.school_code, "failed", (),
                                        reason=_reply(exc.smtp_code, exc.smtp_error))
                continue
            except OSError as exc:  # the connection dropped (smtplib's other errors are OSErrors too): reconnect
                smtp.close()
                smtp = None
                yield message, Delivery(message.kind, message.school_code, "failed", (), reason=str(exc))
                continue
            accepted = tuple(a for a in message.to if a not in refused)
            yield message, Delivery(message.kind, message.school_code, "sent", accepted, refused=_replies(refused),
                                    message_id=msg["Message-ID"])
    finally:
        if smtp is not None:
            _quit(smtp)


def deliver(messages: Iterable[Message], out: Path | str, cycle_id: str, day: date, now: datetime,
            settings: SmtpSettings) -> list[Delivery]:
    """Send every message not yet delivered today, logging each one the server took before the next goes. What was
    sent before a MailError (unreachable server, refused login) is already in the log."""
    log = SentLog(out)
    done = log.reminded(day, cycle_id)
    results: list[Delivery] = []
    for message, delivery in _session(_unsent(messages, done, results), settings, now):
        if delivery.status == "sent":
            log.append(day, cycle_id, message, delivery, now)
            done.add(_key(message))
        results.append(delivery)
    return results


def send_now(messages: Iterable[Message], settings: SmtpSettings, now: datetime) -> list[Delivery]:
    """Send every message, with no sent-mail log and no once-a-day rule (a failure notice: each failure is news)."""
    return [delivery for _message, delivery in _session(messages, settings, now)]


def write_eml(messages: Iterable[Message], folder: Path | str, out: Path | str, cycle_id: str, day: date,
              now: datetime, mail_from: str) -> list[Delivery]:
    """The dry run: each message a real run would send now, as `<folder>/<cycle>_<day>_<kind>_<school>.eml`.
    Nothing is sent and the sent-mail log is only read."""
    folder = Path(folder)
    done = SentLog(out).reminded(day, cycle_id)
    results: list[Delivery] = []
    for message in _unsent(messages, done, results):
        msg = build_message(message, mail_from, now)
        name = "_".join(filter(None, [cycle_id, day.isoformat(), message.kind, message.school_code])) + ".eml"
        write_atomic(folder / name, msg.as_bytes())
        results.append(Delivery(message.kind, message.school_code, "written", message.to,
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

    def send(self, messages: Iterable[Message]) -> list[Delivery]:
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
        raise MailError(_("{where}: cannot connect ({reason})").format(where=where, reason=exc)) from None
    try:
        smtp.ehlo()
        if settings.starttls:
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if settings.user:
            smtp.login(settings.user, settings.password or "")
    except smtplib.SMTPNotSupportedError as exc:
        _quit(smtp)
        hint = "" if settings.starttls else " " + _("(does it need ANTT_SMTP_STARTTLS=true?)")
        raise MailError(f"{where}: {exc}{hint}") from None
    except smtplib.SMTPAuthenticationError as exc:
        _quit(smtp)
        raise MailError(_("{where}: login as {user} refused ({reply})").format(
            where=where, user=settings.user, reply=_reply(exc.smtp_code, exc.smtp_error))) \
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
