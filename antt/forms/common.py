"""What every form export shares: the school option list, and the hint that explains a question's rules.

The Google Form, the XLSForm and the Excel template all say the same thing about a question (required when, who
answers it, its bounds), so the sentence is composed once here from the question's config and the wording in
`form.yaml`'s `exports.hints`.
"""

from __future__ import annotations

import pandas as pd

from antt.config import Config, Form, Hints, Question

# The config file each form is defined in (`antt form export --form report|reply`).
CONFIG_FILES = {"report": "form.yaml", "reply": "reply_form.yaml"}

# U+2013 with spaces: the "CODE – school name" option text that docs/spec.md §3 and the normalizer's code
# extraction expect.
SCHOOL_SEPARATOR = " – "


def school_options(registry: pd.DataFrame) -> list[str]:
    """Every registry school as the form shows it: "CODE – school name", in registry order."""
    pairs = zip(registry["school_code"], registry["school_name"], strict=True)
    return [f"{code}{SCHOOL_SEPARATOR}{name}" for code, name in pairs]


def question_options(q: Question, registry: pd.DataFrame) -> list[str]:
    """The option texts of a select question (the registry's schools for the school question)."""
    return school_options(registry) if q.options_from == "registry" else list(q.options or [])


def number(value: float) -> str:
    """A bound as people and expressions write it: 0 rather than 0.0."""
    return str(int(value)) if float(value).is_integer() else str(value)


def level_list(levels: list[str], config: Config) -> str:
    return ", ".join(config.office.level_names.get(lv, lv) for lv in levels)


def bounds_hint(q: Question, hints: Hints) -> str:
    """What a valid answer looks like (type and bounds): the message shown when an answer is refused."""
    parts: list[str] = []
    if q.type == "integer":
        parts.append(hints.integer_min.format(min=number(q.min)) if q.min is not None else hints.integer)
    elif q.type in ("decimal", "percent") and q.min is not None:
        parts.append(hints.min.format(min=number(q.min)))
    if q.max is not None:
        parts.append(hints.max.format(max=number(q.max)))
    if q.max_question:
        parts.append(hints.max_question.format(question=q.max_question))
    if q.type == "phone":
        parts.append(hints.phone)
    if q.type == "url":
        parts.append(hints.url)
    if q.type == "date":
        parts.append(hints.date)
    return " ".join(parts)


def rule_hint(q: Question, form: Form, config: Config, *, required_in_form: bool) -> str:
    """The question's rules, for what the form itself cannot enforce or show, then its help text.

    `required_in_form` says whether the export marks the question required natively (then it is not repeated).
    """
    hints = form.exports.hints
    parts: list[str] = []
    if q.required and not required_in_form:
        parts.append(hints.required)
    if q.required_if:
        other = form.by_id[q.required_if.question]
        parts.append(hints.required_if.format(question=other.id, value=q.required_if.equals))
    if q.applies_to:
        parts.append(hints.applies_to.format(levels=level_list(q.applies_to, config)))
    bounds = bounds_hint(q, hints)
    if bounds and not (q.type == "date" and q.help):
        parts.append(bounds)
    if q.help:
        parts.append(q.help)
    return " ".join(parts)
