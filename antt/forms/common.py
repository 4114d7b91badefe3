"""What every form export shares: the school option list, and the hint that explains a question's rules.

The Google Form, the XLSForm and the Excel template all say the same thing about a question (required when, who
answers it, its bounds), so the sentence is composed once here from the question's config.
"""

from __future__ import annotations

import pandas as pd

from antt.config import Config, Form, Question

# U+2013 with spaces: the "CODE – Tên trường" option text that docs/spec.md §3 and the normalizer's code extraction
# expect.
SCHOOL_SEPARATOR = " – "


def school_options(registry: pd.DataFrame) -> list[str]:
    """Every registry school as the form shows it: "CODE – Tên trường", in registry order."""
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


def bounds_hint(q: Question) -> str:
    """What a valid answer looks like (type and bounds): the message shown when an answer is refused."""
    parts: list[str] = []
    if q.type == "integer":
        parts.append(f"Số nguyên, không nhỏ hơn {number(q.min)}." if q.min is not None else "Số nguyên.")
    elif q.type in ("decimal", "percent") and q.min is not None:
        parts.append(f"Không nhỏ hơn {number(q.min)}.")
    if q.max is not None:
        parts.append(f"Không lớn hơn {number(q.max)}.")
    if q.max_question:
        parts.append(f"Không lớn hơn câu {q.max_question}.")
    if q.type == "phone":
        parts.append("Số di động 10 chữ số, bắt đầu bằng 0.")
    if q.type == "url":
        parts.append("Đường dẫn bắt đầu bằng http:// hoặc https://.")
    if q.type == "date":
        parts.append("Ngày/tháng/năm.")
    return " ".join(parts)


def rule_hint(q: Question, form: Form, config: Config, *, required_in_form: bool) -> str:
    """The question's rules in Vietnamese, for what the form itself cannot enforce or show, then its help text.

    `required_in_form` says whether the export marks the question required natively (then it is not repeated).
    """
    parts: list[str] = []
    if q.required and not required_in_form:
        parts.append("Bắt buộc trả lời.")
    if q.required_if:
        other = form.by_id[q.required_if.question]
        parts.append(f"Bắt buộc khi câu {other.id} là \"{q.required_if.equals}\".")
    if q.applies_to:
        parts.append(f"Chỉ trường {level_list(q.applies_to, config)} trả lời; trường khác để trống.")
    bounds = bounds_hint(q)
    if bounds and not (q.type == "date" and q.help):
        parts.append(bounds)
    if q.help:
        parts.append(q.help)
    return " ".join(parts)
