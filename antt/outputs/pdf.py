"""PDF by WeasyPrint, fonts (Vietnamese glyphs) embedded: `report.pdf`, the official report in the layout of Decree
30/2020/ND-CP (`official.html.j2`, content from `antt.outputs.official`), and any page printed as it is.

WeasyPrint lays the page out with Pango/HarfBuzz and finds fonts through fontconfig. The official report asks for
"Times New Roman"; where it is not installed, fontconfig gives its metric-compatible Liberation Serif, and Debian's
`fonts-liberation2` (Liberation 2.x) has every Vietnamese glyph, so no letter falls back to another face. The older
`fonts-liberation` (1.07) lacks them.
"""

from __future__ import annotations

from pathlib import Path

from antt.errors import AnttError
from antt.outputs.publish import write_atomic
from antt.outputs.render import template


class PdfUnavailable(AnttError):
    """WeasyPrint or the system libraries it needs (Pango) are not installed: one line for the CLI."""


def _weasyprint():
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: the Python package is there, libpango is not
        raise PdfUnavailable(
            "report.pdf needs WeasyPrint and Pango: pip install weasyprint; "
            "apt-get install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-liberation2 fonts-dejavu-core"
        ) from exc
    return weasyprint


def write_report_pdf(official: dict, dest: Path) -> Path:
    """The official report (`antt.outputs.official.official_report`) printed to `dest`."""
    html = template("official.html.j2").render(r=official)
    return write_pdf(html, dest, Path(dest).parent)


def write_pdf(report_html: str, dest: Path, base_url: Path) -> Path:
    """Render `report_html` to `dest` (written whole or not at all); `base_url` resolves relative links/images."""
    weasyprint = _weasyprint()
    dest = Path(dest)
    base = Path(base_url).resolve()
    document = weasyprint.HTML(string=report_html, base_url=base.as_uri() + ("/" if base.is_dir() else ""),
                               media_type="print")
    write_atomic(dest, document.write_pdf())
    return dest
