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
    "top_navbar.j2": """\
<nav class="dq-nav">
  <a href="{{ back }}">← Trang chất lượng dữ liệu</a>
  <span>Great Expectations {{ ge_version }} · {{ page_title }}</span>
  {% if trimmed %}<p class="dq-note">Mỗi kỳ vọng chỉ liệt kê {{ shown }} dòng không đạt đầu tiên
    ({{ trimmed }} kỳ vọng có nhiều hơn); danh sách đầy đủ theo trường nằm ở trang chất lượng dữ liệu và issues.csv.</p>{% endif %}
  <table class="table dq-kinds">
    <thead><tr><th>Loại kỳ vọng</th><th>Số kỳ vọng</th><th>Không đạt</th></tr></thead>
    <tbody>{% for kind, total, failed in kinds %}<tr><td><code>{{ kind }}</code></td><td>{{ total }}</td><td>{{ failed }}</td></tr>{% endfor %}</tbody>
  </table>
</nav>
""",
    # Included by page.j2 after GX's own styles: the few Bootstrap rules the page's layout relies on.
    "data_docs_custom_styles.css": """\
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #212529; }
a { color: #0056b3; }
.dq-nav { padding: 10px 24px; border-bottom: 1px solid #dee2e6; background: #f8f9fa; }
.dq-nav span { margin-left: 16px; color: #6c757d; }
.dq-note { margin: 6px 0 0; color: #856404; }
.dq-kinds { width: auto; font-size: .9em; }
.container-fluid { padding: 16px 24px; }
.row { display: flex; flex-wrap: wrap; }
.col-12 { flex: 0 0 100%; max-width: 100%; }
.col-6 { flex: 0 0 50%; max-width: 50%; }
.col-lg-2 { flex: 0 0 16%; max-width: 16%; }
.col-lg-10 { flex: 0 0 84%; max-width: 84%; }
@media (max-width: 900px) { .col-lg-2, .col-lg-10, .col-6 { flex-basis: 100%; max-width: 100%; } }
.sticky { position: sticky; top: 0; max-height: 100vh; overflow-y: auto; }
.nav { list-style: none; padding: 0; margin: 0; }
.nav-link { display: block; padding: 2px 6px; word-break: break-all; }
.table, .table-bordered { border-collapse: collapse; width: 100%; margin: 6px 0; }
.table td, .table th, .table-bordered td, .table-bordered th { border: 1px solid #dee2e6; padding: 3px 6px; vertical-align: top; text-align: left; }
.table-responsive { overflow-x: auto; }
.alert-secondary { background: #e2e3e5; border: 1px solid #d6d8db; padding: 8px 12px; margin: 8px 0; border-radius: 3px; }
.badge { display: inline-block; padding: 0 5px; border-radius: 3px; background: #6c757d; color: #fff; font-size: .85em; }
.card { border: 1px solid #dee2e6; border-radius: 3px; margin: 6px 0; padding: 6px; }
.text-danger { color: #dc3545; }
.text-success { color: #28a745; }
.m-0 { margin: 0; }
.fas { font-style: normal; }
.fa-check-circle::before { content: "✔"; }
.fa-times::before, .fa-times-circle::before { content: "✘"; }
.fa-exclamation-triangle::before { content: "⚠"; }
""",
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
