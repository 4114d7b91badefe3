"""Great Expectations Data Docs for one run's validation, written as one page that opens without a network.

GX's own renderer and view draw the page (expectations, their results, the rows that failed); what the stock page
fetches from CDNs (Bootstrap, jQuery, Font Awesome, the GX logo) and the buttons that need that JavaScript are left
out, and a small inline stylesheet stands in for Bootstrap's layout.
"""

from __future__ import annotations

import copy
import html
import re
from collections import Counter
from importlib.resources import files
from pathlib import Path

from jinja2 import BaseLoader, Environment

UNEXPECTED_SHOWN = 200  # per expectation: a national run's COMPLETE result lists thousands of rows
_LISTS = ("unexpected_list", "unexpected_index_list", "partial_unexpected_list", "partial_unexpected_index_list")
_VALUES = (*_LISTS, "partial_unexpected_counts")  # what a result holds of the sheet's own cells

# A remote resource in a GX template: a script or stylesheet from a CDN, an image, a CSS url(). Anchors stay.
_REMOTE = re.compile(
    r"<script\b[^>]*\bsrc=[\"']https?://[^>]*>\s*</script>"
    r"|<link\b[^>]*\bhref=[\"']https?://[^>]*>"
    r"|<img\b[^>]*\bsrc=[\"']?https?://[^>]*>", re.IGNORECASE)
_REMOTE_CSS = re.compile(r"url\(\s*['\"]?https?://[^)]*\)", re.IGNORECASE)
# Links to the pages of a full GX site (home, suite page): this folder holds the validation page alone.
_SITE_LINK = re.compile(r"<a\s+href=\"(?:\.\./){2,}[^\"]*\"\s*>(.*?)</a>", re.DOTALL)

# The stock partials that only load remote assets, drive jQuery buttons, or link a GX site that is not there.
_REPLACED = {
    "js_script_imports.j2": "",
    "favicon.j2": "",
    "cloud-footer.j2": "",
    "page_action_card.j2": "",
    # Ours, in report_templates/data_docs/: the page's header (back link, counts) and, included by page.j2 after
    # GX's own styles, the few Bootstrap rules the page's layout relies on.
    **{name: (files("antt") / "report_templates" / "data_docs" / name).read_text(encoding="utf-8")
       for name in ("top_navbar.j2", "data_docs_custom_styles.css")},
}


class _OfflineLoader(BaseLoader):
    """GX's template loader, minus remote assets: the partials above are replaced, every other template loses its
    remote `<script src>`, `<link href>`, `<img src>` and CSS `url()`."""

    def __init__(self, inner: BaseLoader):
        self.inner = inner

    def get_source(self, environment: Environment, template: str):
        if template in _REPLACED:
            return _REPLACED[template], None, lambda: True
        source, filename, uptodate = self.inner.get_source(environment, template)
        return _REMOTE_CSS.sub("none", _REMOTE.sub("", source)), filename, uptodate


def trimmed(validation_result, most: int = UNEXPECTED_SHOWN) -> tuple[object, int]:
    """A shallow copy of a suite result whose unexpected-row lists keep their first `most` entries, and how many
    expectations were cut. The run's own result is left as it is."""
    results, cut = [], 0
    for res in validation_result.results:
        details = res.result or {}
        if any(len(details.get(k) or ()) > most for k in _LISTS):
            cut += 1
            res = copy.copy(res)
            res.result = {k: (v[:most] if k in _LISTS and v else v) for k, v in details.items()
                          if k != "unexpected_index_query"}  # a query naming every failed row
        results.append(res)
    out = copy.copy(validation_result)
    out.results = results
    return out, cut


def _as_text(value):
    """A value from the sheet, its strings HTML-escaped (inside lists and dicts too)."""
    if isinstance(value, str):
        return html.escape(value)
    if isinstance(value, dict):
        return {k: _as_text(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_as_text(v) for v in value]
    return value


def escaped(validation_result) -> object:
    """A shallow copy of a suite result whose unexpected values are HTML-escaped: GX's view writes the cells of its
    unexpected-value tables into the page as they are, and those cells are what the schools typed."""
    results = []
    for res in validation_result.results:
        res = copy.copy(res)
        res.result = {k: (_as_text(v) if k in _VALUES else v) for k, v in (res.result or {}).items()}
        results.append(res)
    out = copy.copy(validation_result)
    out.results = results
    return out


def expectation_kinds(validation_result) -> list[tuple[str, int, int]]:
    """(expectation type, how many in the suite, how many failed), by type."""
    total, failed = Counter(), Counter()
    for res in validation_result.results:
        kind = res.expectation_config.type
        total[kind] += 1
        failed[kind] += not res.success
    return [(kind, total[kind], failed[kind]) for kind in sorted(total)]


def write_data_docs(validation_result, folder: Path, back: str = "../data_quality.html",
                    most: int = UNEXPECTED_SHOWN) -> Path:
    """Render the run's suite result as `<folder>/index.html` (GX's validation results page, offline); returns it.

    `back` is the link to the analyst's data-quality page, relative to the folder; each expectation lists at most
    `most` of its failed rows."""
    from great_expectations.render.renderer import ValidationResultsPageRenderer
    from great_expectations.render.view import DefaultJinjaPageView

    shown, cut = trimmed(validation_result, most)
    view = DefaultJinjaPageView()
    view.env.loader = _OfflineLoader(view.env.loader)
    document = ValidationResultsPageRenderer().render(escaped(shown))
    html = view.render(document, back=back, trimmed=cut, shown=most, kinds=expectation_kinds(validation_result),
                       show_how_to_buttons=False)
    html = _SITE_LINK.sub(r"\1", html).replace("<html>", '<html lang="en">', 1)
    folder.mkdir(parents=True, exist_ok=True)
    index = folder / "index.html"
    index.write_text(html, encoding="utf-8")
    return index
