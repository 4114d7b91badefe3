"""The raw response table every source produces: header cells as given, and every cell as text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd

# A float written with exactly three decimals ("1.125") would read as a thousands-separated integer (docs/spec.md §4).
_THREE_DECIMALS = re.compile(r"^-?\d+\.\d{3}$")


def number_text(value: float) -> str:
    """A spreadsheet number as answer text: whole numbers without '.0', the shortest exact decimal otherwise, never
    three decimals after a '.' ('1.125' → '1.1250'), which the parser would read as 1125."""
    if value.is_integer():
        return str(int(value))
    text = format(Decimal(repr(value)), "f")
    return text + "0" if _THREE_DECIMALS.match(text) else text


@dataclass(frozen=True)
class RawTable:
    """A response sheet before any interpretation.

    `headers` keeps duplicates and blanks as the sheet has them; `cells` has one column per header position
    (0, 1, …) holding text ('' for an empty cell) and is indexed by the sheet row (the header is row 1). `keys`,
    when the source has them, names each row's response (the Forms API's responseId), by sheet row. `read_as` says
    how the source was read (a file's encoding, separator and line ending, or its worksheet): the run's manifest
    records it.
    """

    headers: list[str]
    cells: pd.DataFrame
    source: str
    keys: pd.Series | None = None
    read_as: dict = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: list[list[str]], source: str, keys: list[str] | None = None,
                  read_as: dict | None = None) -> RawTable:
        """First row is the header; ragged rows are padded with empty cells, never dropped."""
        headers = [str(h) for h in rows[0]] if rows else []
        width = max([len(headers), *(len(r) for r in rows[1:])]) if rows else 0
        headers += [""] * (width - len(headers))
        body = [r + [""] * (width - len(r)) for r in rows[1:]]
        cells = pd.DataFrame(body, columns=range(width), dtype="str") if body else pd.DataFrame(
            {i: pd.Series([], dtype="str") for i in range(width)})
        cells.index = pd.RangeIndex(2, 2 + len(body), name="sheet_row")
        return cls(headers=headers, cells=cells, source=source,
                   keys=None if keys is None else pd.Series(keys, index=cells.index, dtype="str"),
                   read_as=read_as or {})
