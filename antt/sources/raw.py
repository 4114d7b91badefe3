"""The raw response table every source produces: header cells as given, and every cell as text."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class RawTable:
    """A response sheet before any interpretation.

    `headers` keeps duplicates and blanks as the sheet has them; `cells` has one column per header position
    (0, 1, …) holding text ('' for an empty cell) and is indexed by the sheet row (the header is row 1).
    """

    headers: list[str]
    cells: pd.DataFrame
    source: str

    @classmethod
    def from_rows(cls, rows: list[list[str]], source: str) -> RawTable:
        """First row is the header; ragged rows are padded with empty cells, never dropped."""
        headers = [str(h) for h in rows[0]] if rows else []
        width = max([len(headers), *(len(r) for r in rows[1:])]) if rows else 0
        headers += [""] * (width - len(headers))
        body = [r + [""] * (width - len(r)) for r in rows[1:]]
        cells = pd.DataFrame(body, columns=range(width), dtype="str") if body else pd.DataFrame(
            {i: pd.Series([], dtype="str") for i in range(width)})
        cells.index = pd.RangeIndex(2, 2 + len(body), name="sheet_row")
        return cls(headers=headers, cells=cells, source=source)
