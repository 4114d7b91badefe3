"""`config/form.yaml` → an XLSForm workbook (survey, choices, settings) for ODK Collect and KoboToolbox.

Names are the question ids and labels "ID. label", as in the Google Form. XLSForm can express what a Google Form
cannot: the respondent first picks the school's level, which filters the school list and shows only the questions
that apply to that level; bounds by another answer and conditional requirements become constraint and required
expressions.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font

from antt.config import NUMERIC_TYPES, Config, Form, Question
from antt.errors import ConfigError
from antt.forms.common import bounds_hint, number, rule_hint, school_options
from antt.i18n import _

SURVEY_COLUMNS = ["type", "name", "label", "hint", "required", "relevant", "constraint", "constraint_message",
                  "choice_filter", "appearance"]
CHOICE_COLUMNS = ["list_name", "name", "label", "level"]
LEVEL = "level"  # the extra question that carries the school's level into relevance and the school filter
YES, NO = "yes", "no"
_TYPES = {"integer": "integer", "decimal": "decimal", "percent": "decimal", "date": "date", "text": "text",
          "paragraph": "text", "url": "text", "phone": "text"}
# The XLSForm's form_id per form (forms.FORMS): ODK and Kobo tell forms apart by it.
FORM_IDS = {"report": "antt_bao_cao", "reply": "antt_phan_hoi"}


def choice_name(text: str) -> str:
    """A value XLSForm stores: letters, digits, '_', '-', '.' (select_multiple separates values by spaces)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def _list_name(q: Question) -> str:
    return "schools" if q.options_from == "registry" else q.id.lower()


def _required(q: Question, form: Form) -> str:
    """"yes", or an expression for a question required only when another answer has a given value."""
    if q.required:
        return "yes"
    if not q.required_if:
        return ""
    other, want = form.by_id[q.required_if.question], q.required_if.equals
    ref = f"${{{other.id}}}"
    if other.type == "yes_no":
        return f"{ref} = '{YES if want == form.answer_yes else NO}'"
    if other.type in ("select_one", "select_multiple"):
        if str(want) not in (other.options or []):
            raise ConfigError(_("form.yaml: {question}: required_if.equals {value!r} is not an option of {other}")
                              .format(question=q.id, value=want, other=other.id))
        name = other.options.index(str(want)) + 1
        return f"selected({ref}, '{name}')"
    if other.type in NUMERIC_TYPES:
        return f"{ref} = {number(float(want))}"
    text = str(want).replace("'", "")  # an XPath string literal cannot escape its quote
    return f"{ref} = '{text}'"


def _constraint(q: Question) -> str:
    terms = []
    if q.min is not None:
        terms.append(f". >= {number(q.min)}")
    if q.max is not None:
        terms.append(f". <= {number(q.max)}")
    if q.max_question:
        terms.append(f"(${{{q.max_question}}} = '' or . <= ${{{q.max_question}}})")
    if q.type == "phone":
        terms.append("regex(., '^0[0-9]{9}$')")
    if q.type == "url":
        terms.append("regex(., '^https?://[^ ]+$')")
    return " and ".join(terms)


def _relevant(q: Question) -> str:
    if not q.applies_to:
        return ""
    return " or ".join(f"selected(${{{LEVEL}}}, '{choice_name(level)}')" for level in q.applies_to)


def _survey_row(q: Question, config: Config) -> dict[str, str]:
    if q.type == "yes_no":
        kind = f"select_one {YES}_{NO}"
    elif q.type in ("select_one", "select_multiple"):
        kind = f"{q.type} {_list_name(q)}"
    else:
        kind = _TYPES[q.type]
    constraint = _constraint(q)
    return {
        "type": kind, "name": q.id, "label": q.title,
        "hint": rule_hint(q, config.form, config, required_in_form=True),
        "required": _required(q, config.form), "relevant": _relevant(q), "constraint": constraint,
        "constraint_message": bounds_hint(q, config.form.exports.hints) if constraint else "",
        "choice_filter": f"{LEVEL}=${{{LEVEL}}}" if q.options_from == "registry" else "",
        "appearance": {"phone": "numbers", "paragraph": "multiline"}.get(q.type, ""),
    }


def survey_rows(config: Config) -> list[dict[str, str]]:
    """The survey sheet: an introduction, then one field-list group per form section."""
    form = config.form
    rows = [{"type": "note", "name": "intro", "label": form.description}] if form.description else []
    for section in form.sections:
        rows.append({"type": "begin_group", "name": f"section_{section.id}", "label": section.title,
                     "appearance": "field-list"})
        for q in form.questions:
            if q.section != section.id:
                continue
            if q.options_from == "registry":
                words = form.exports.xlsform
                rows.append({"type": "select_one levels", "name": LEVEL, "label": words.level_label, "required": "yes",
                             "hint": words.level_hint.format(question=q.id)})
            rows.append(_survey_row(q, config))
        rows.append({"type": "end_group", "name": f"section_{section.id}"})
    return rows


def choice_rows(config: Config, registry: pd.DataFrame) -> list[dict[str, str]]:
    """The choices sheet: yes/no, the levels, the schools (with their level, for the filter), each select's options."""
    form = config.form
    rows = [{"list_name": f"{YES}_{NO}", "name": YES, "label": form.answer_yes},
            {"list_name": f"{YES}_{NO}", "name": NO, "label": form.answer_no}]
    rows += [{"list_name": "levels", "name": choice_name(level), "label": config.office.level_names.get(level, level)}
             for level in form.levels]
    schools = zip(registry["school_code"], school_options(registry), registry["level"], strict=True)
    rows += [{"list_name": "schools", "name": choice_name(code), "label": label, "level": choice_name(level)}
             for code, label, level in schools]
    for q in form.questions:
        if q.options:
            rows += [{"list_name": _list_name(q), "name": str(i), "label": option}
                     for i, option in enumerate(q.options, start=1)]
    return rows


def settings_row(config: Config, which: str = "report") -> dict[str, str]:
    form = config.form
    return {"form_title": form.title, "form_id": FORM_IDS[which], "version": form.version, "style": "pages"}


def write_xlsform(config: Config, registry: pd.DataFrame, dest: Path, which: str = "report") -> Path:
    """Write the three XLSForm sheets to `dest` (.xlsx); `which` is the form `config.form` holds (forms.FORMS)."""
    wb = Workbook()
    settings = settings_row(config, which)
    sheets = [("survey", SURVEY_COLUMNS, survey_rows(config)),
              ("choices", CHOICE_COLUMNS, choice_rows(config, registry)),
              ("settings", list(settings), [settings])]
    wb.remove(wb.active)
    for title, columns, rows in sheets:
        ws = wb.create_sheet(title)
        ws.append(columns)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in rows:
            ws.append([row.get(c, "") or None for c in columns])
        ws.freeze_panes = "A2"
    wb.save(dest)
    return dest
