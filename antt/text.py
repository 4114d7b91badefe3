"""Text and number presentation: NFC normalisation for matching, Vietnamese formats for people (Babel)."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime

import pandas as pd
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

LOCALE = "vi_VN"
# Zero-width and bidi marks that survive copy-paste from Word/Zalo; removed before any comparison.
_INVISIBLE = "[\u200b\u200c\u200d\u2060\ufeff\u200e\u200f\u202a-\u202e\u2066-\u2069]"
_SPACES = r"[\s\u00a0\u2007\u202f]+"


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def match_key(text: str) -> str:
    """NFC, invisible marks removed, case-folded, whitespace collapsed: the form compared for header/option matching."""
    text = re.sub(_INVISIBLE, "", nfc(text))
    return re.sub(_SPACES, " ", text).strip().casefold()


def clean_series(s: pd.Series) -> pd.Series:
    """Column-wise NFC + invisible-mark removal + whitespace collapse; empty strings become missing."""
    s = s.astype("string").str.normalize("NFC")
    s = s.str.replace(_INVISIBLE, "", regex=True).str.replace(_SPACES, " ", regex=True).str.strip()
    return s.mask(s == "")


def key_series(s: pd.Series) -> pd.Series:
    """`match_key` over a column of already-cleaned strings."""
    return s.str.casefold()


def vi_number(value: float | int | None, decimals: int = 1) -> str:
    """85.5 → '85,5'; 1200 → '1.200'; None → ''."""
    if value is None or pd.isna(value):
        return ""
    fmt = "#,##0" if decimals == 0 else "#,##0." + "0" * decimals
    return format_decimal(value, format=fmt, locale=LOCALE)


def vi_percent(share: float | None) -> str:
    """0.855 → '85,5%'."""
    if share is None or pd.isna(share):
        return ""
    return vi_number(share * 100, 1) + "%"


def vi_date(value: date | datetime | None) -> str:
    """A date as people write it: 09/06/2026."""
    if value is None or pd.isna(value):
        return ""
    return format_date(value, "dd/MM/yyyy", locale=LOCALE)


def vi_datetime(value: datetime | None) -> str:
    """An instant as people read it, in the value's own zone: 09/06/2026 08:05."""
    if value is None or pd.isna(value):
        return ""
    return format_datetime(value, "dd/MM/yyyy HH:mm", tzinfo=value.tzinfo, locale=LOCALE)
