"""Who gets which reminder: a message to every expected school that is missing or needs correction, naming exactly
what to fix and the deadline, and one summary to the analyst. Planning is pure: results in, rendered messages out.

The Vietnamese words live in `report_templates/mail_reminder.*.j2` and `mail_summary.txt.j2`; this module only
decides the recipients and the facts. Sending (or writing `.eml` files) is `antt.mail.outbox`; the flow that reads,
scores and reminds is `antt.flows.remind`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from antt.config import Config
from antt.cycles import Cycle
from antt.errors import AnttError
from antt.i18n import _
from antt.mail.message import Message, render_html, render_text
from antt.mail.outbox import Outbox
from antt.scoring.results import CycleResults
from antt.text import is_address, vi_date

REMIND = ("missing", "needs_correction")


def reminder_kind(cycle: Cycle, today: date) -> str:
    """'reminder' before the school deadline, 'overdue' from it until collection closes; outside the collection
    window a submission would not count, so there is nothing to remind about (AnttError)."""
    last_day = (cycle.closes_at - timedelta(days=1)).date()
    if today < cycle.opens_at.date():
        raise AnttError(_("{cycle}: collection opens on {day}; no reminders before then")
                        .format(cycle=cycle.id, day=vi_date(cycle.opens_at)))
    if today > last_day:
        raise AnttError(_("{cycle}: collection closed after {day}; a submission now would not count, so no "
                          "reminders are sent").format(cycle=cycle.id, day=vi_date(last_day)))
    return "reminder" if today < cycle.school_deadline else "overdue"


def check_round(cycle: Cycle, config: Config, out: Path, today: date | None = None,
                dry_run: Path | str | None = None) -> str:
    """What a reminder round checks before anything is read: the day (default: today in the office's time zone)
    is inside the collection window, and the mail settings are usable (MailError). Returns the kind of message."""
    now = datetime.now(ZoneInfo(cycle.timezone))
    day = today or now.date()
    kind = reminder_kind(cycle, day)
    Outbox.open(out, cycle.id, day, now, config.office.contact_email, dry_run)
    return kind


def plan_reminders(res: CycleResults, registry: pd.DataFrame, config: Config, today: date,
                   analyst: str | None = None) -> list[Message]:
    """One message per expected school that is missing or needs correction, to its registered addresses only, then
    one summary to `analyst` (default: the office's contact address). Nothing at all when no school needs one.

    A needs_correction school is told every blocking issue of its submissions (sheet row, question, message).
    Schools without a usable registered address get no message; the summary lists them to be called instead.
    """
    cycle = res.cycle
    kind = reminder_kind(cycle, today)
    analyst = analyst or config.office.contact_email
    if not is_address(analyst):
        raise AnttError(_("analyst address {address!r} is not a valid e-mail address").format(address=analyst))
    todo = res.ranked[res.ranked["status"].isin(REMIND)]
    if todo.empty:
        return []
    emails = registry.set_index("school_code")["emails"]
    blocking = _blocking_issues(res.issues, config)
    facts = _cycle_facts(cycle, config, today, kind)
    sender = f"{config.office.office_short} {config.office.place}"
    reminders, schools = [], []
    for rec in todo.to_dict("records"):
        code = rec["school_code"]
        registered = list(emails.get(code, []))
        school = {"code": code, "name": _text(rec["school_name"]), "ward": _text(rec["ward"]), "level": rec["level"],
                  "status": rec["status"], "to": [a for a in registered if is_address(a)],
                  "unusable": [a for a in registered if not is_address(a)],
                  "rows": _rows(blocking.get(code, []))}
        schools.append(school)
        if school["to"]:
            subject, text = render_text("mail_reminder.txt.j2", school=school, **facts)
            html = render_html("mail_reminder.html.j2", school=school, **facts)
            reminders.append(Message(kind=kind, school_code=code, to=tuple(school["to"]), subject=subject,
                                     text=text, html=html, sender_name=sender, reply_to=analyst,
                                     once_a_day="school notice"))  # a reminder or an overdue notice, not both
    subject, text = render_text("mail_summary.txt.j2", schools=schools, **facts)
    reminders.append(Message(kind="summary", school_code="", to=(analyst,), subject=subject, text=text, html=None,
                             sender_name=sender, reply_to=analyst))
    return reminders


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _blocking_issues(issues: pd.DataFrame, config: Config) -> dict[str, list[dict]]:
    """Error-severity issues per school, in sheet-row order, with the question's label."""
    errors = issues[issues["severity"] == "error"].sort_values(["sheet_row", "question_id"], kind="stable")
    by_school: dict[str, list[dict]] = {}
    for rec in errors.to_dict("records"):
        q = config.form.by_id.get(rec["question_id"] or "")
        by_school.setdefault(rec["school_code"], []).append({
            "sheet_row": int(rec["sheet_row"]), "question_id": rec["question_id"] or "",
            "label": q.label if q else "", "message": rec["message"], "rule": rec["rule"]})
    return by_school


def _rows(issues: list[dict]) -> list[dict]:
    """Issues grouped by the submission (sheet row) they belong to."""
    rows: dict[int, list[dict]] = {}
    for issue in issues:
        rows.setdefault(issue["sheet_row"], []).append(issue)
    return [{"sheet_row": row, "issues": found} for row, found in rows.items()]


def _cycle_facts(cycle: Cycle, config: Config, today: date, kind: str) -> dict:
    office = config.office
    return {
        "kind": kind,
        "today": vi_date(today),
        "cycle": {"id": cycle.id, "label": cycle.label, "deadline": vi_date(cycle.deadline_at),
                  "last_day": vi_date((cycle.closes_at - timedelta(days=1)).date()),
                  "period_start": vi_date(cycle.period_start), "period_end": vi_date(cycle.period_end)},
        "form_title": config.form.title,
        "office": {"name": office.office_short, "place": office.place, "contact_email": office.contact_email},
    }
