"""`report.pdf`: the leadership report printed to A4 by WeasyPrint, with its fonts (Vietnamese glyphs) embedded.

WeasyPrint lays the page out with Pango/HarfBuzz and finds fonts through fontconfig: the report's serif stack
("Times New Roman", Liberation Serif, DejaVu Serif) needs one of Debian's `fonts-liberation` / `fonts-dejavu-core`,
which both cover Vietnamese. The print CSS (`@page`, `@media print`) in the report template applies here.
"""

from __future__ import annotations

from pathlib import Path

from antt.errors import AnttError
from antt.outputs.publish import write_atomic


class PdfUnavailable(AnttError):
    """WeasyPrint or the system libraries it needs (Pango) are not installed: one line for the CLI."""


def _weasyprint():
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: the Python package is there, libpango is not
        raise PdfUnavailable(
            "report.pdf needs WeasyPrint and Pango: pip install weasyprint; "
            "apt-get install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-liberation fonts-dejavu-core"
        ) from exc
    return weasyprint


def write_pdf(report_html: str, dest: Path, base_url: Path) -> Path:
    """Render `report_html` to `dest` (written whole or not at all); `base_url` resolves relative links/images."""
    weasyprint = _weasyprint()
    dest = Path(dest)
    base = Path(base_url).resolve()
    document = weasyprint.HTML(string=report_html, base_url=base.as_uri() + ("/" if base.is_dir() else ""),
                               media_type="print")
    write_atomic(dest, document.write_pdf())
    return dest
