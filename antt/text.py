"""Text and number presentation: NFC normalisation for matching, Vietnamese formats for people.

Number symbols come from Babel's CLDR data for vi_VN (decimal ',' and grouping '.'); formatting itself uses
Python's own formatter with those symbols, which is exact for the fixed patterns used here and fast enough to
format every cell of a national report.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from datetime import date, datetime

import pandas as pd
from babel.numbers import get_decimal_symbol, get_group_symbol

LOCALE = "vi_VN"


# A plain ASCII address: anything else (a comma, a space, a second address pasted into the registry cell) would
# change who a header or the SMTP envelope names.
_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+")


def one_line(text: str) -> str:
    """Text fit for a header: every run of whitespace and control characters (CR, LF, tab…) becomes one space."""
    return " ".join(re.sub(r"[\x00-\x1f\x7f\u2028\u2029]", " ", text).split())


def is_address(text: str) -> bool:
    return bool(_ADDRESS.fullmatch(text))


# Zero-width and bidi marks that survive copy-paste from Word/Zalo (soft hyphen, joiners, LRM/RLM/ALM, embeddings,
# isolates, BOM), and control characters other than line breaks and tabs: never part of an answer, removed
# before any comparison.
_INVISIBLE = ("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
              "\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]")
_SPACES = r"[\s\u00a0\u2007\u202f]+"


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def match_key(text: str) -> str:
    """NFC, invisible marks removed, case-folded, whitespace collapsed: the form compared for header/option matching."""
    text = re.sub(_INVISIBLE, "", nfc(text))
    return re.sub(_SPACES, " ", text).strip().casefold()


def clean_series(s: pd.Series) -> pd.Series:
    """`clean_cell` down a column, as text ("string" dtype): NFC, invisible marks removed, whitespace collapsed and
    stripped; empty strings become missing. Cell by cell, so most cells skip the regexes (a national registry's
    columns in a tenth of the time of pandas' string methods, which run each regex over every cell)."""
    return pd.Series(_cleaned(s.astype("string").tolist()), index=s.index, dtype="string")


def clean_cell(text: str) -> str | None:
    """One cell: NFC, invisible marks removed, whitespace collapsed and stripped; '' becomes None.

    The common cases (plain numbers and words) take the fast path; only odd cells pay for the regexes.
    """
    if not text:
        return None
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    if "  " in text or not text.isprintable():
        text = re.sub(_SPACES, " ", re.sub(_INVISIBLE, "", text))
    text = text.strip()
    return text or None


def on_uniques(fn, s: pd.Series, *args):
    """Apply a column function to the distinct values only and spread the results back (answers repeat a lot:
    '0', the yes word, the same option lists). `fn` returns one Series or a tuple of Series aligned to its input."""
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    result = fn(pd.Series(uniques, dtype=s.dtype), *args)

    def spread(part: pd.Series) -> pd.Series:
        return pd.Series(part.reindex(codes).array, index=s.index)  # code -1 (missing) → missing

    return tuple(spread(r) for r in result) if isinstance(result, tuple) else spread(result)


def _cleaned(values: list) -> list[str | None]:
    """`clean_cell` of each text value; anything else (a missing cell) is None."""
    return [clean_cell(v) if isinstance(v, str) else None for v in values]


def _clean_column(s: pd.Series) -> pd.Series:
    return pd.Series(_cleaned(s.tolist()), index=s.index, dtype="str")


def clean_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """`clean_cell` over every cell of a frame of text, each distinct value of a column once."""
    columns = {col: on_uniques(_clean_column, frame[col].astype("str")) for col in frame.columns}
    return pd.DataFrame(columns, index=frame.index, columns=frame.columns)


@functools.cache
def _number_symbols() -> dict[int, str]:
    return str.maketrans({",": get_group_symbol(LOCALE), ".": get_decimal_symbol(LOCALE)})


def vi_number(value: float | int | None, decimals: int = 1, trim: bool = False) -> str:
    """85.5 → '85,5'; 1200 → '1.200'; None → ''. `trim` drops trailing zeros: 2.50 → '2,5', 8.00 → '8'."""
    if value is None or pd.isna(value):
        return ""
    text = f"{value:,.{decimals}f}"
    if trim and decimals:
        text = text.rstrip("0").rstrip(".")
    return text.translate(_number_symbols())


def vi_percent(share: float | None) -> str:
    """0.855 → '85,5%'."""
    if share is None or pd.isna(share):
        return ""
    return vi_number(share * 100, 1) + "%"


def vi_date(value: date | datetime | None) -> str:
    """A date as people write it: 09/06/2026."""
    if value is None or pd.isna(value):
        return ""
    return value.strftime("%d/%m/%Y")


def vi_datetime(value: datetime | None) -> str:
    """An instant as people read it, in the value's own zone: 09/06/2026 08:05."""
    if value is None or pd.isna(value):
        return ""
    return value.strftime("%d/%m/%Y %H:%M")


def iso_instants(instants: pd.Series, seconds: bool = False) -> pd.Series:
    """Zone-aware instants as ISO 8601 text, as each one's `isoformat()` writes it ('2026-06-09T08:05:00+07:00',
    with microseconds when it has some), or to the second with `seconds`; missing ones stay missing (NaN).
    Column-wise: a national registry's 50,000 times in a few hundredths of a second rather than half a second."""
    local = instants.dt.tz_localize(None)
    text = local.dt.strftime("%Y-%m-%dT%H:%M:%S").astype(object)
    if not seconds:
        micro = local.dt.microsecond
        fraction = micro.notna() & (micro != 0)
        text[fraction] = text[fraction] + micro[fraction].map(lambda us: f".{int(us):06d}")
    offsets = local - instants.dt.tz_convert("UTC").dt.tz_localize(None)
    return text + offsets.map({offset: _utc_offset(offset) for offset in offsets.dropna().unique()})


def _utc_offset(offset: pd.Timedelta) -> str:
    """+07:00 (and its seconds, if any, as `isoformat` writes them)."""
    total = int(offset.total_seconds())
    sign, total = ("-", -total) if total < 0 else ("+", total)
    text = f"{sign}{total // 3600:02d}:{total % 3600 // 60:02d}"
    return text + f":{total % 60:02d}" if total % 60 else text
