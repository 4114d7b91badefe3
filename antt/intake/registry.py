"""The school registry `config/schools.csv`: who is expected to report, their level, ward and registered senders."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd

from antt.cycles import Cycle
from antt.errors import InputError
from antt.i18n import _
from antt.text import clean_series

COLUMNS = ["school_code", "school_name", "level", "ward", "emails"]
OPTIONAL = ["opened", "closed"]
UNIT = "unit"  # optional: the reporting unit (district office) a school belongs to; default: one unit
# A school code names files (`schools/<code>.html`, reminder drafts) and leads its form option "CODE – name": so
# nothing that could climb out of a folder, start a spreadsheet formula, or be a device name on Windows.
_CODE = re.compile(r"[0-9A-Z][0-9A-Z_.]{0,39}")
_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"{d}{i}" for d in ("COM", "LPT") for i in range(1, 10))}


def csv_with_lines(text: str) -> tuple[pd.DataFrame, pd.Series]:
    """A config CSV (one record a line; blank lines and lines starting with '#' skipped) as text, and each record's
    line in the file as an editor or a spreadsheet shows it. No record, not even a header: EmptyDataError."""
    lines = text.splitlines()
    numbers = [n for n, ln in enumerate(lines, start=1) if ln.strip() and not ln.lstrip().startswith("#")]
    if not numbers:
        raise pd.errors.EmptyDataError("no header line")
    df = pd.read_csv(io.StringIO("\n".join(lines[n - 1] for n in numbers)), dtype=str, keep_default_na=False)
    return df, pd.Series(numbers[1:len(df) + 1], index=df.index)


def read_registry(path: Path | str) -> bytes:
    """The registry file's bytes; a missing one is an InputError."""
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(_("{path}: school registry not found").format(path=path)) from None
    except IsADirectoryError:
        raise InputError(_("{path}: school registry is not a UTF-8 CSV file").format(path=path)) from None


def load_registry(path: Path | str, levels: list[str], default_unit: str = "", data: bytes | None = None
                  ) -> pd.DataFrame:
    """Read and check the registry. Lines starting with '#' are comments. Emails become lower-case lists.

    The optional `unit` column names each school's reporting unit; schools without one belong to `default_unit`.
    `data` is the file's bytes (`read_registry`) when the caller has read them already.
    """
    path = Path(path)
    try:
        text = (read_registry(path) if data is None else data).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(_("{path}: school registry is not a UTF-8 CSV file").format(path=path)) from None
    try:
        df, line = csv_with_lines(text)
    except pd.errors.EmptyDataError:
        raise InputError(_("{path}: school registry is empty").format(path=path)) from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise InputError(_("{path}: school registry is not a readable CSV ({reason})")
                         .format(path=path, reason=str(exc).splitlines()[0])) from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise InputError(_("{path}: school registry lacks column(s) {missing} (expected {expected})")
                         .format(path=path, missing=", ".join(missing), expected=", ".join(COLUMNS + OPTIONAL)))
    for col in COLUMNS[:4]:
        df[col] = clean_series(df[col])
    df["school_code"] = df["school_code"].str.upper()
    blank = df["school_code"].isna()
    if blank.any():
        raise InputError(_("{path}: line {line}: school_code is empty").format(path=path, line=line[blank].iloc[0]))
    codes = df["school_code"]
    unsafe = ~codes.str.fullmatch(_CODE.pattern) | codes.str.split(".").str[0].isin(_WINDOWS_DEVICES)
    if unsafe.any():
        raise InputError(_("{path}: line {line}: school_code {code!r} cannot name a file: use letters A-Z, digits, '_' "
                           "or '.', starting with a letter or digit, at most 40 (and not a Windows device name)")
                         .format(path=path, line=line[unsafe].iloc[0], code=codes[unsafe].iloc[0]))
    dupes = df["school_code"].duplicated(keep=False)
    if dupes.any():
        where = line[dupes].groupby(df.loc[dupes, "school_code"]).agg(
            lambda n: _("{lines} and {last}").format(lines=", ".join(map(str, n.iloc[:-1])), last=n.iloc[-1]))
        raise InputError(_("{path}: duplicate school_code {codes}").format(
            path=path, codes="; ".join(_("{code} (lines {lines})").format(code=code, lines=at)
                                       for code, at in where.items())))
    bad = df.loc[~df["level"].isin(levels), ["school_code", "level"]]
    if len(bad):
        code, level = bad.iloc[0]
        raise InputError(_("{path}: {code}: unknown level {level!r} (expected one of {levels})")
                         .format(path=path, code=code, level=level, levels=", ".join(levels)))
    df["emails"] = df["emails"].fillna("").map(
        lambda s: sorted({e.strip().lower() for e in s.split(";") if e.strip()}))
    for col in OPTIONAL:
        raw = df[col].str.strip() if col in df.columns else pd.Series("", index=df.index)
        parsed = pd.to_datetime(raw.replace("", None), format="%Y-%m-%d", errors="coerce")
        wrong = raw.ne("") & parsed.isna()
        if wrong.any():
            row = df.loc[wrong].iloc[0]
            raise InputError(_("{path}: {code}: {column} {value!r} is not a date YYYY-MM-DD")
                             .format(path=path, code=row["school_code"], column=col, value=raw[wrong].iloc[0]))
        df[col] = parsed.dt.date
    unit = clean_series(df[UNIT]) if UNIT in df.columns else pd.Series(pd.NA, index=df.index, dtype="str")
    df[UNIT] = unit.fillna(default_unit)
    return df[COLUMNS + OPTIONAL + [UNIT]].reset_index(drop=True)


def expected_in(registry: pd.DataFrame, cycle: Cycle) -> pd.DataFrame:
    """Schools open at some point of the cycle's collection window: those the cycle expects a report from."""
    first, last = cycle.opens_at.date(), cycle.closes_at.date()
    opened = registry["opened"].map(lambda d: d is None or pd.isna(d) or d < last)
    not_closed = registry["closed"].map(lambda d: d is None or pd.isna(d) or d >= first)
    return registry[opened & not_closed].reset_index(drop=True)
