"""The school registry `config/schools.csv`: who is expected to report, their level, ward and registered senders."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from antt.cycles import Cycle
from antt.errors import InputError
from antt.i18n import _
from antt.sources.files import read_table
from antt.text import clean_series

COLUMNS = ["school_code", "school_name", "level", "ward", "emails"]
OPTIONAL = ["opened", "closed"]
UNIT = "unit"  # optional: the reporting unit (district office) a school belongs to; default: one unit
# A school code names files (`schools/<code>.html`, reminder drafts) and leads its form option "CODE – name": so
# nothing that could climb out of a folder, start a spreadsheet formula, or be a device name on Windows.
_CODE = re.compile(r"[0-9A-Z][0-9A-Z_.]{0,39}")
_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"{d}{i}" for d in ("COM", "LPT") for i in range(1, 10))}


def config_table(path: Path, name: str, what: str) -> tuple[pd.DataFrame, pd.Series, dict]:
    """An office file (the registry, a corrections file) read as people save it: any separator, encoding and line
    ending a spreadsheet writes, or an .xlsx (docs/spec.md §4); blank lines and lines starting with '#' skipped.
    Returns the records as text, each record's line in the file (as an editor or a spreadsheet shows it) and what
    was detected. `what` names the file in messages."""
    if not path.is_file():
        raise InputError(_("{name}: {what} not found").format(name=name, what=what))
    table = read_table(path, f"{name} ({what})", comments=True)  # an unreadable file says which one it is
    header = [cell.strip() for cell in table.rows[0]]
    body = [row + [""] * (len(header) - len(row)) for row in table.rows[1:]]
    df = pd.DataFrame([row[:len(header)] for row in body], columns=header, dtype="str") if body else \
        pd.DataFrame(columns=header, dtype="str")
    return df, pd.Series(table.lines[1:], index=df.index, dtype="int64"), table.read_as


def load_registry(path: Path | str, levels: list[str], default_unit: str = "", label: str | None = None
                  ) -> pd.DataFrame:
    """Read and check the registry. Lines starting with '#' are comments. Emails become lower-case lists.

    The optional `unit` column names each school's reporting unit; schools without one belong to `default_unit`.
    `label` names the registry in messages (its source, when `path` is an archived copy).
    """
    path = Path(path)
    name = label or str(path)
    df, line, _read_as = config_table(path, name, _("school registry"))
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise InputError(_("{path}: school registry lacks column(s) {missing} (expected {expected})")
                         .format(path=name, missing=", ".join(missing), expected=", ".join(COLUMNS + OPTIONAL)))
    for col in COLUMNS[:4]:
        df[col] = clean_series(df[col])
    df["school_code"] = df["school_code"].str.upper()
    blank = df["school_code"].isna()
    if blank.any():
        raise InputError(_("{path}: line {line}: school_code is empty").format(path=name, line=line[blank].iloc[0]))
    codes = df["school_code"]
    unsafe = ~codes.str.fullmatch(_CODE.pattern) | codes.str.split(".").str[0].isin(_WINDOWS_DEVICES)
    if unsafe.any():
        raise InputError(_("{path}: line {line}: school_code {code!r} cannot name a file: use letters A-Z, digits, '_' "
                           "or '.', starting with a letter or digit, at most 40 (and not a Windows device name)")
                         .format(path=name, line=line[unsafe].iloc[0], code=codes[unsafe].iloc[0]))
    dupes = df["school_code"].duplicated(keep=False)
    if dupes.any():
        where = line[dupes].groupby(df.loc[dupes, "school_code"]).agg(
            lambda n: _("{lines} and {last}").format(lines=", ".join(map(str, n.iloc[:-1])), last=n.iloc[-1]))
        raise InputError(_("{path}: duplicate school_code {codes}").format(
            path=name, codes="; ".join(_("{code} (lines {lines})").format(code=code, lines=at)
                                       for code, at in where.items())))
    bad = df.loc[~df["level"].isin(levels), ["school_code", "level"]]
    if len(bad):
        code, level = bad.iloc[0]
        raise InputError(_("{path}: {code}: unknown level {level!r} (expected one of {levels})")
                         .format(path=name, code=code, level=level, levels=", ".join(levels)))
    df["emails"] = df["emails"].fillna("").map(
        lambda s: sorted({e.strip().lower() for e in s.split(";") if e.strip()}))
    for col in OPTIONAL:
        raw = df[col].str.strip() if col in df.columns else pd.Series("", index=df.index)
        parsed = pd.to_datetime(raw.replace("", None), format="%Y-%m-%d", errors="coerce")
        wrong = raw.ne("") & parsed.isna()
        if wrong.any():
            row = df.loc[wrong].iloc[0]
            raise InputError(_("{path}: {code}: {column} {value!r} is not a date YYYY-MM-DD")
                             .format(path=name, code=row["school_code"], column=col, value=raw[wrong].iloc[0]))
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
