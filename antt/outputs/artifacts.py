"""What a flow run shows in the Prefect UI: a Markdown summary and a table of issues, and the province roll-up's
summary (pure; the flows publish them), in the office's language."""

from __future__ import annotations

from pathlib import Path

from antt.checks.validate import SEVERITY_ORDER, severity_names
from antt.i18n import _
from antt.outputs.document import kpis
from antt.scoring.results import CycleResults

TABLE_ROWS = 1000


def summary_markdown(res: CycleResults, folder: str) -> str:
    k = kpis(res.ranked)
    severity = res.issues["severity"].value_counts()
    rows = [
        (_("Schools expected to report"), k["expected"]),
        (_("Submitted and counted"), _("{n} (on time {on_time}, late {late})").format(
            n=k["submitted"], on_time=k["on_time"], late=k["late"])),
        (_("Needs correction"), k["needs_correction"]),
        (_("Not submitted"), k["missing"]),
        (_("Meeting the standard"), k["dat"]),
        (_("Data problems"), _("{errors} errors, {warnings} warnings, {notes} notes").format(
            errors=int(severity.get("error", 0)), warnings=int(severity.get("warning", 0)),
            notes=int(severity.get("info", 0)))),
    ]
    lines = [f"# {res.cycle.label} {res.cycle.id}", "", "| | |", "|---|---|",
             *(f"| {label} | {value} |" for label, value in rows), "",
             _("Report: `{path}`").format(path=f"{folder}/report.html")]
    return "\n".join(lines)


def province_markdown(document: dict, folder: Path) -> str:
    """The roll-up's headline numbers, where its page is, and every unit that failed with its reason."""
    k = document["overall"] or {}
    lines = [_("# Roll-up of {n} units – cycle {cycle}").format(n=len(document["units"]),
                                                               cycle=document["cycle"]["id"]),
             "", _("- Schools expected to report: {expected}; submitted: {submitted}; meeting the standard: {dat}")
             .format(expected=k.get("expected", 0), submitted=k.get("submitted", 0), dat=k.get("dat", 0)),
             _("- Report: `{path}`").format(path=folder / "province.html")]
    lines += [_("- **Failed** {unit}: {reason}").format(unit=f["name"], reason=f["reason"]) for f in document["failed"]]
    return "\n".join(lines)


def issues_table(res: CycleResults) -> list[dict]:
    """Errors first, then warnings; at most TABLE_ROWS rows (issues.csv always has them all). Columns and severities
    in the office's language; the rows are issues.csv's."""
    order = res.issues["severity"].map(SEVERITY_ORDER)
    issues = res.issues.assign(_o=order).sort_values(["_o", "sheet_row"], kind="stable").head(TABLE_ROWS)
    if not len(issues):
        return []
    table = issues[["school_code", "sheet_row", "question_id", "severity", "message"]].astype(object)
    table = table.where(issues.notna(), None).assign(severity=issues["severity"].map(severity_names()))
    names = {"school_code": _("School"), "sheet_row": _("Sheet row"), "question_id": _("Question"),
             "severity": _("Severity"), "message": _("Problem")}
    return table.rename(columns=names).to_dict("records")
