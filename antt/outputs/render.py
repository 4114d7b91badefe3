"""The one Jinja2 environment: pages, e-mails and the province roll-up are all rendered from
`antt/report_templates/` through it, with one set of filters and one name each.

`*.html.j2` templates are autoescaped: everything that came from the sheet or the registry is escaped. Plain-text
e-mail templates (`*.txt.j2`) are not, since their text is never read as HTML. Undefined names are errors, block
tags keep no stray lines (`trim_blocks`, `lstrip_blocks`), and templates ship inside the package, so nothing is
re-read while a national run renders 50,000 pages.

Filters: `vi_number` (85,5), `vi_percent` (85,5%), `share` (a configured share: 70%), `points` (6,25), `score`
(one decimal), `count` (1.234), `signed` (+2,5 / −1,0), `vi_date` (09/06/2026), `vi_datetime` (09/06/2026 08:05),
`official_date` (the date line of an official document, day below 10 and months 1–2 with a leading zero). Globals:
STATUS_LABELS and VERDICT_LABELS (`_labels.j2`, see `labels`), and `_`, the catalogs' gettext (`antt.i18n`), for
the few templates the analyst reads in the CLI's language.
"""

from __future__ import annotations

import functools
from datetime import date, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, Template, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from antt.i18n import _
from antt.text import vi_date, vi_datetime, vi_number, vi_percent


def as_datetime(value: str | datetime | None) -> datetime | None:
    """An ISO instant from the results document (or a datetime as is)."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def as_date(value: str | date | None) -> date | None:
    """The day of an ISO date or instant from the results document (or a date as is)."""
    return date.fromisoformat(value[:10]) if isinstance(value, str) else value


def official_date(value: str | datetime) -> str:
    """`_labels.j2`'s OFFICIAL_DATE: day below 10 and months 1–2 take a leading zero (Decree 30/2020/ND-CP)."""
    d = as_date(value) if isinstance(value, str) else value
    month = f"{d.month:02d}" if d.month < 3 else str(d.month)
    return labels().OFFICIAL_DATE.format(day=f"{d.day:02d}", month=month, year=d.year)


def signed(value: float | None, decimals: int = 1) -> str:
    """+2,5 / −1,0 / 0 for a change between cycles."""
    if value is None:
        return ""
    if round(value, decimals) == 0:
        return "0"
    return ("+" if value > 0 else "−") + vi_number(abs(value), decimals)


def share(value: float) -> str:
    """A configured share as people say it: 0.7 → '70%', 0.855 → '85,5%'."""
    pct = round(value * 100, 1)
    return vi_number(pct, 0 if pct.is_integer() else 1) + "%"


def points(value: float) -> str:
    """Indicator points with no trailing zeros: 8 → '8', 6.25 → '6,25', 2.5 → '2,5'."""
    return vi_number(value, 2, trim=True)


_ENV = Environment(
    loader=PackageLoader("antt", "report_templates"),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), disabled_extensions=("txt.j2",),
                                 default_for_string=True, default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,  # templates ship inside the package; no stat() per page rendered
)
_ENV.filters.update(
    vi_number=vi_number, vi_percent=vi_percent, share=share, points=points,
    score=lambda v: vi_number(v, 1), count=lambda v: vi_number(v, 0), signed=signed,
    vi_date=lambda v: vi_date(as_date(v)), vi_datetime=lambda v: vi_datetime(as_datetime(v)),
    official_date=official_date,
)


def template(name: str) -> Template:
    """A template of `antt/report_templates/`, loaded once."""
    return _ENV.get_template(name)


@functools.cache
def labels() -> Any:
    """`_labels.j2`'s words (STATUS, VERDICT, ANSWER, TREND_CHART, OFFICIAL_DATE, REPORT_FILES), read once."""
    return template("_labels.j2").module


_ENV.globals.update(STATUS_LABELS=labels().STATUS, VERDICT_LABELS=labels().VERDICT, _=_)


def word_environment() -> SandboxedEnvironment:
    """The environment docxtpl fills a Word template with (`antt.outputs.docx`): the same filters and globals, but
    sandboxed, since the template may be the office's own file (`config/report.docx`), and a fresh one per document,
    since docxtpl sets its autoescape. Undefined names are errors."""
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True)
    env.filters.update(_ENV.filters)
    env.globals.update(_ENV.globals)
    return env
