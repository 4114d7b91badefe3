"""Who gets a cycle's results by e-mail: the leadership report to the leadership list in `office.yaml`, and every
school its own scorecard at its registered addresses. Pure: the cycle's document (`results.json`) and config in,
`Reminder` messages out; every figure in a message is read from the document.

The Vietnamese words live in `report_templates/mail_report.*.j2` and `mail_scorecard.*.j2`; reading the files and
sending is `antt.mail.send`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from antt.config import Config
from antt.errors import AnttError
from antt.mail.reminders import Attachment, Reminder, render_html, render_text
from antt.text import is_address, vi_date, vi_number, vi_percent

REPORT_FILES = {"report.pdf": ("application/pdf", "báo cáo đầy đủ, in trên khổ A4"),
                "ranking.xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                                 "bảng xếp hạng tất cả các trường")}
# The scorecard's way back to the office's report, which the school does not get: dropped from the attached copy.
_BACK_LINK = re.compile(r'<p class="back">.*?</p>\n?', re.DOTALL)


@dataclass(frozen=True)
class Unreachable:
    """A school that gets no scorecard: no usable registered address (`unusable`: what the registry holds)."""

    school_code: str
    school_name: str
    unusable: tuple[str, ...]


def leadership(config: Config) -> tuple[str, ...]:
    """The leadership list, or an AnttError when it is empty."""
    if not config.office.leadership_emails:
        raise AnttError(f"no leadership addresses: set leadership_emails in {config.root / 'office.yaml'}")
    return tuple(config.office.leadership_emails)


def report_message(document: dict, config: Config, files: dict[str, bytes]) -> Reminder:
    """The leadership report: the cycle's KPIs in the body, `files` (name → bytes, names from REPORT_FILES)
    attached in that order."""
    attachments = tuple(Attachment(name, REPORT_FILES[name][0], data) for name, data in files.items())
    facts = _facts(document, config) | {
        "kpis": _kpi_texts(document["kpis"]),
        "attachments": [{"filename": a.filename, "what": REPORT_FILES[a.filename][1]} for a in attachments]}
    subject, text = render_text("mail_report.txt.j2", **facts)
    return Reminder(kind="report", school_code="", to=leadership(config), subject=subject, text=text,
                    html=render_html("mail_report.html.j2", **facts), sender_name=_sender(config),
                    reply_to=config.office.contact_email, attachments=attachments)


def scorecard_recipients(document: dict, registry: pd.DataFrame
                         ) -> tuple[list[tuple[dict, tuple[str, ...]]], list[Unreachable]]:
    """Every school of the document with its usable registered addresses, and those that have none."""
    emails = registry.set_index("school_code")["emails"]
    reachable, unreachable = [], []
    for school in document["schools"]:
        registered = list(emails.get(school["school_code"], []))
        usable = tuple(a for a in registered if is_address(a))
        if usable:
            reachable.append((school, usable))
        else:
            unreachable.append(Unreachable(school["school_code"], school["school_name"] or "", tuple(registered)))
    return reachable, unreachable


def scorecard_message(school: dict, to: tuple[str, ...], scorecard_html: str, document: dict,
                      config: Config) -> Reminder:
    """One school's scorecard mail: a few facts in the body, `schools/<code>.html` attached."""
    code = school["school_code"]
    filename = f"phieu-ket-qua-{code}.html"
    grades = {g.id: g.label for g in config.scoring.grades}
    facts = _facts(document, config) | {"filename": filename, "school": {
        "code": code, "name": school["school_name"] or code, "status": school["status"],
        "verdict": school["verdict"], "score": vi_number(school["score"], 1) or "—",
        "grade": grades.get(school["grade"], "—"), "rank": school["rank_overall"],
        "ranked": len(document["schools"])}}
    subject, text = render_text("mail_scorecard.txt.j2", **facts)
    attachment = Attachment(filename, "text/html", _BACK_LINK.sub("", scorecard_html, count=1).encode("utf-8"))
    return Reminder(kind="scorecard", school_code=code, to=to, subject=subject, text=text,
                    html=render_html("mail_scorecard.html.j2", **facts), sender_name=_sender(config),
                    reply_to=config.office.contact_email, attachments=(attachment,))


def _sender(config: Config) -> str:
    return f"{config.office.office_short} {config.office.place}"


def _facts(document: dict, config: Config) -> dict[str, Any]:
    """The cycle, the office, and for a provisional cycle which annual cycle makes it official."""
    cycle, office = document["cycle"], config.office
    year = cycle["id"].split("-")[0]
    annual = next((k for k, kind in config.cycles.kinds.items() if not kind.provisional), None)
    provisional = {"year": year, "annual_label": config.cycles.kinds[annual].label, "annual_id": f"{year}-{annual}"} \
        if cycle["provisional"] and annual else None
    return {
        "cycle": {"id": cycle["id"], "label": cycle["label"],
                  "period_start": vi_date(date.fromisoformat(cycle["period_start"])),
                  "period_end": vi_date(date.fromisoformat(cycle["period_end"]))},
        "office": {"name": office.office_short, "place": office.place, "contact_email": office.contact_email},
        "provisional": provisional,
    }


def _kpi_texts(kpis: dict) -> dict[str, str]:
    """The KPIs as the report prints them: counts 1.234, shares 85,5%, the average score 84,4 (— when none)."""
    counts = {k: vi_number(kpis[k], 0) for k in ("expected", "submitted", "on_time", "late", "needs_correction",
                                                  "missing", "dat")}
    expected = kpis["expected"]
    return counts | {
        "submitted_share": vi_percent(kpis["submitted"] / expected) if expected else "",
        "dat_share": vi_percent(kpis["dat"] / expected) if expected else "",
        "average_score": vi_number(kpis["average_score"], 1) or "—",
    }
