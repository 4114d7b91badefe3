"""A written cycle by e-mail: the leadership report to the leadership list in `office.yaml` (the official report as
`report.pdf`, printed when missing or older than `report.html`, and as `report.docx`, with `ranking.xlsx` attached),
and every school its own scorecard at its registered addresses, final or as a draft the school may
answer through the reply form (`reply_form_url`) until the cycle's reply window closes (`reply_closes`).

`ReportMail` is the one way the report is sent, whether `antt report --send` or `run_cycle(send_report=True)` asks:
the same checks before anything is rendered (leadership list, mail settings), the same once-a-day rule (the
outbox's sent-mail log), the same deliveries and the same problems. The messages themselves are pure: the cycle's
document (`results.json`) and config in, `Message`s out; every figure in them is read from the document, and their
Vietnamese words live in `report_templates/mail_report.*.j2`, `mail_scorecard.*.j2` and `_draft_notice.html.j2`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from antt.config import Config
from antt.cycles import Cycle, resolve_cycle
from antt.errors import AnttError
from antt.i18n import _
from antt.mail.message import Attachment, Message, render_html, render_text
from antt.mail.outbox import Delivery, Outbox
from antt.outputs.html import inline_stylesheet
from antt.outputs.render import labels
from antt.text import is_address, vi_date, vi_number, vi_percent

# What each is, in words, is `_labels.j2`'s REPORT_FILES.
REPORT_FILES = {"report.pdf": "application/pdf",
                "report.docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "ranking.xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
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
        raise AnttError(_("no leadership addresses: set leadership_emails in {path}")
                        .format(path=config.root / "office.yaml"))
    return tuple(config.office.leadership_emails)


def report_message(document: dict, config: Config, files: dict[str, bytes]) -> Message:
    """The leadership report: the cycle's KPIs in the body, `files` (name → bytes, names from REPORT_FILES)
    attached in that order."""
    attachments = tuple(Attachment(name, REPORT_FILES[name], data) for name, data in files.items())
    facts = _facts(document, config) | {
        "kpis": _kpi_texts(document["kpis"]),
        "attachments": [{"filename": a.filename, "what": labels().REPORT_FILES[a.filename]} for a in attachments]}
    subject, text = render_text("mail_report.txt.j2", **facts)
    return Message(kind="report", school_code="", to=leadership(config), subject=subject, text=text,
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


def draft_facts(cycle: Cycle, config: Config) -> dict[str, str]:
    """What a draft scorecard tells the school about replying: the reply form's link, the last day of the reply
    window, the school deadline and the last day of collection (dd/mm/yyyy). An AnttError when office.yaml has no
    `reply_form_url`."""
    if not config.office.reply_form_url:
        raise AnttError(_("no reply form link: set reply_form_url in {path} (antt form export --form reply makes "
                          "the form)").format(path=config.root / "office.yaml"))
    return {"reply_form_url": config.office.reply_form_url, "reply_last_day": vi_date(cycle.reply_last_day),
            "school_deadline": vi_date(cycle.school_deadline),
            "last_day": vi_date(cycle.closes_at - timedelta(days=1))}


def scorecard_message(school: dict, to: tuple[str, ...], scorecard_html: str, document: dict,
                      config: Config, draft: dict[str, str] | None = None) -> Message:
    """One school's scorecard mail: a few facts in the body, `schools/<code>.html` attached with its stylesheet
    inline (the cycle folder's shared copy does not travel with it). With `draft` (`draft_facts`) it is the draft
    (kind "draft"): marked as a draft in the subject, the body and the attached page, with how and until when to
    reply."""
    code = school["school_code"]
    filename = f"du-thao-phieu-ket-qua-{code}.html" if draft else f"phieu-ket-qua-{code}.html"
    grades = {g.id: g.label for g in config.scoring.grades}
    facts = _facts(document, config) | {"filename": filename, "draft": draft, "school": {
        "code": code, "name": school["school_name"] or code, "status": school["status"],
        "verdict": school["verdict"], "score": vi_number(school["score"], 1) or "—",
        "grade": grades.get(school["grade"], "—"), "rank": school["rank_overall"],
        "ranked": len(document["schools"])}}
    subject, text = render_text("mail_scorecard.txt.j2", **facts)
    # The school's copy has no way back to the office's report; a draft says it is one in that place, at the top.
    banner = render_html("_draft_notice.html.j2", **facts) if draft else ""
    attached = _BACK_LINK.sub(lambda _match: banner, inline_stylesheet(scorecard_html), count=1)
    attachment = Attachment(filename, "text/html", attached.encode("utf-8"))
    return Message(kind="draft" if draft else "scorecard", school_code=code, to=to, subject=subject, text=text,
                   html=render_html("mail_scorecard.html.j2", **facts), sender_name=_sender(config),
                   reply_to=config.office.contact_email, attachments=(attachment,))


@dataclass(frozen=True)
class Sent:
    """What a cycle's e-mail did: every delivery, and the schools that got no scorecard for want of an address."""

    deliveries: list[Delivery]
    unreachable: list[Unreachable]

    def problems(self) -> list[str]:
        """One line per message that failed or had a recipient refused: what it was and what the server said."""
        lines = []
        for d in self.deliveries:
            if d.status == "failed" or d.refused:
                what = {"report": _("the report e-mail to leadership"),
                        "draft": _("the draft scorecard to {school}")}.get(d.kind, _("the scorecard to {school}"))
                lines.append(f"{what.format(school=d.school_code)}: {d.detail}")
        return lines


@dataclass(frozen=True)
class ReportMail:
    """A written cycle's e-mail, checked before anything is rendered; `send` mails the report and/or scorecards
    (final, or with `draft` set, drafts: `draft_facts`)."""

    config: Config
    outbox: Outbox
    registry: pd.DataFrame | None = None
    draft: dict[str, str] | None = None

    @classmethod
    def open(cls, config: Config, out: Path | str, cycle_id: str, *, report: bool = True,
             registry: pd.DataFrame | None = None, dry_run: Path | str | None = None, drafts: bool = False,
             today: date | None = None) -> ReportMail:
        """Check the leadership list (when the report is to go), the reply form's link and the reply window (when
        drafts are to go) and the mail settings (MailError); `registry`, needed for scorecards only, says where
        each school's goes. `today` (default: today, office time zone) is the day mail is sent and logged as."""
        if report:
            leadership(config)
        now = datetime.now(ZoneInfo(config.cycles.timezone))
        day = today or now.date()
        draft = None
        if drafts:
            cycle = resolve_cycle(cycle_id, config.cycles)
            draft = draft_facts(cycle, config)
            if day > cycle.reply_last_day:
                raise AnttError(_("{cycle}: the reply window closed after {day}; a reply now would come too late, so "
                                  "no drafts are sent").format(cycle=cycle_id, day=vi_date(cycle.reply_last_day)))
        return cls(config, Outbox.open(out, cycle_id, day, now, config.office.contact_email, dry_run), registry,
                   draft)

    def send(self, folder: Path | str, *, report: bool = True, scorecards: bool = False,
             drafts: bool = False) -> Sent:
        """Mail `folder`'s report (at most once a day) and/or every school its scorecard or its draft scorecard
        (each at most once a day). A refused message or recipient is in the result, not raised: see
        `Sent.problems`."""
        folder = Path(folder)
        deliveries, unreachable = [], []
        if report:
            deliveries.append(self._report(folder))
        if drafts and self.draft is None:
            raise ValueError("drafts need a ReportMail opened with drafts=True")
        if scorecards or drafts:
            sent, unreachable = self._scorecards(folder, self.draft if drafts else None)
            deliveries += sent
        return Sent(deliveries, unreachable)

    def _report(self, folder: Path) -> Delivery:
        to = leadership(self.config)
        if self.outbox.sent_today("report"):
            return Delivery("report", "", "skipped", to, reason=_("already sent today"))
        document = read_document(folder)
        for name in ("report.html", "report.docx", "ranking.xlsx"):
            if not (folder / name).is_file():
                raise AnttError(_("{path} does not exist (run `antt run --cycle {cycle} …` again)")
                                .format(path=folder / name, cycle=folder.name))
        files = {"report.pdf": report_pdf(folder, self.config).read_bytes(),
                 **{name: (folder / name).read_bytes() for name in ("report.docx", "ranking.xlsx")}}
        [result] = self.outbox.send([report_message(document, self.config, files)])
        return result

    def _scorecards(self, folder: Path, draft: dict[str, str] | None) -> tuple[list[Delivery], list[Unreachable]]:
        if self.registry is None:
            raise ValueError("scorecards need the school registry")
        document = read_document(folder)
        reachable, unreachable = scorecard_recipients(document, self.registry)
        messages: Iterable[Message] = (
            scorecard_message(school, to, _scorecard(folder, school["school_code"]), document, self.config, draft)
            for school, to in reachable)  # one scorecard read at a time, however many schools
        return self.outbox.send(messages), unreachable


def read_document(folder: Path) -> dict:
    """`<folder>/results.json`, or an AnttError naming the run that would write it."""
    path = Path(folder) / "results.json"
    if not path.is_file():
        raise AnttError(_("no results for cycle {cycle}: {path} does not exist (run `antt run --cycle {cycle} …` "
                          "first)").format(cycle=path.parent.name, path=path))
    return json.loads(path.read_text(encoding="utf-8"))


def report_pdf(folder: Path, config: Config) -> Path:
    """`report.pdf`, the official report printed from the cycle's results (as of its run, `manifest.json`) unless
    an up-to-date one is there."""
    from antt.outputs.notes import load_notes
    from antt.outputs.official import official_report
    from antt.outputs.pdf import write_report_pdf

    folder = Path(folder)
    html, pdf = folder / "report.html", folder / "report.pdf"
    if pdf.is_file() and pdf.stat().st_mtime >= html.stat().st_mtime:
        return pdf
    document = read_document(folder)
    run = {"started_at": json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["run_started_at"]}
    return write_report_pdf(official_report(document, config, run, load_notes(config, document["cycle"]["id"])), pdf)


def _scorecard(folder: Path, code: str) -> str:
    path = folder / "schools" / f"{code}.html"
    if not path.is_file():
        raise AnttError(_("{path} does not exist (run `antt run --cycle {cycle} …` again)")
                        .format(path=path, cycle=folder.name))
    return path.read_text(encoding="utf-8")


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
