"""A written cycle by e-mail: the leadership report (`report.pdf`, printed when missing or older than `report.html`,
and `ranking.xlsx` attached) and each school's scorecard. The messages are `antt.mail.delivery`'s; where they go (SMTP
or `.eml` files) and the once-a-day sent-mail log are `antt.mail.outbox.Outbox`'s.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from antt.config import Config
from antt.errors import AnttError
from antt.mail import delivery
from antt.mail.delivery import Unreachable
from antt.mail.outbox import Delivery, Outbox


def read_document(folder: Path) -> dict:
    """`<folder>/results.json`, or an AnttError naming the run that would write it."""
    path = Path(folder) / "results.json"
    if not path.is_file():
        raise AnttError(f"no results for cycle {path.parent.name}: {path} does not exist "
                        f"(run `antt run --cycle {path.parent.name} …` first)")
    return json.loads(path.read_text(encoding="utf-8"))


def report_pdf(folder: Path) -> Path:
    """`report.pdf`, printed from `report.html` unless an up-to-date one is there."""
    from antt.outputs.pdf import write_pdf

    html, pdf = Path(folder) / "report.html", Path(folder) / "report.pdf"
    if pdf.is_file() and pdf.stat().st_mtime >= html.stat().st_mtime:
        return pdf
    return write_pdf(html.read_text(encoding="utf-8"), pdf, folder)


def send_report(folder: Path, config: Config, outbox: Outbox) -> Delivery:
    """E-mail the leadership report with report.pdf and ranking.xlsx, unless it already went today."""
    to = delivery.leadership(config)
    if outbox.sent_today("report"):
        return Delivery("report", "", "skipped", to, reason="already sent today")
    folder = Path(folder)
    document = read_document(folder)
    for name in ("report.html", "ranking.xlsx"):
        if not (folder / name).is_file():
            raise AnttError(f"{folder / name} does not exist (run `antt run --cycle {folder.name} …` again)")
    files = {"report.pdf": report_pdf(folder).read_bytes(), "ranking.xlsx": (folder / "ranking.xlsx").read_bytes()}
    [result] = outbox.send([delivery.report_message(document, config, files)])
    return result


def send_scorecards(folder: Path, config: Config, registry: pd.DataFrame, outbox: Outbox
                    ) -> tuple[list[Delivery], list[Unreachable]]:
    """E-mail every school with a usable registered address its own `schools/<code>.html` (each at most once a
    day); the schools without one are returned, not mailed."""
    folder = Path(folder)
    document = read_document(folder)
    reachable, unreachable = delivery.scorecard_recipients(document, registry)
    messages = (delivery.scorecard_message(school, to, _scorecard(folder, school["school_code"]), document, config)
                for school, to in reachable)  # one scorecard read at a time, however many schools
    return outbox.send(messages), unreachable


def _scorecard(folder: Path, code: str) -> str:
    path = folder / "schools" / f"{code}.html"
    if not path.is_file():
        raise AnttError(f"{path} does not exist (run `antt run --cycle {folder.name} …` again)")
    return path.read_text(encoding="utf-8")
