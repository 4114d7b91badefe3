"""ranking.xlsx: rows of plain values are written as XML directly (`tables._SheetRows`), not cell by cell through
openpyxl; the workbook must be the one openpyxl writes, member for member."""

from __future__ import annotations

import zipfile
from datetime import datetime

import pandas as pd
import pytest
from conftest import Sheet, evaluate
from hypothesis import given, settings
from hypothesis import strategies as st

from antt.outputs import tables
from antt.text import iso_instants

HOSTILE = ["  leading and trailing  ", "a & b < c > d \"quoted\" 'single'", "tab\there", "line\nbreak", "cr\rhere",
           "Trường Tiểu học Lê Lợi – số 2", "emoji 😀 and ‘curly’", "", " ", "'=1+1", "ends with space "]


def _members(path) -> dict[str, bytes]:
    """The workbook's files, but its creation time (docProps/core.xml holds the time it was written)."""
    with zipfile.ZipFile(path) as book:
        return {name: book.read(name) for name in book.namelist() if name != "docProps/core.xml"}


@pytest.fixture(scope="module")
def results(config, registry):
    """A district's results with some schools missing (no time, score or grade) and some failing."""
    sheet = Sheet(config, registry)
    codes = registry["school_code"].tolist()
    for i, code in enumerate(codes[:-3]):
        sheet.add(code, at=f"{1 + i % 9}/6/2026 8:{i % 60:02d}:00", **({"B1": "3"} if i % 4 == 0 else {}))
    return evaluate(sheet.raw(), config, registry)[2]


def _both(ranked, criteria, config, tmp_path, monkeypatch) -> tuple[dict, dict]:
    direct = tmp_path / "direct.xlsx"
    tables.ranking_xlsx(ranked, criteria, config, direct)
    monkeypatch.setattr(tables, "_plain", lambda values: False)  # every cell through openpyxl, as before
    cells = tmp_path / "cells.xlsx"
    tables.ranking_xlsx(ranked, criteria, config, cells)
    return _members(direct), _members(cells)


def test_the_workbook_written_directly_is_openpyxls_own(results, config, tmp_path, monkeypatch):
    direct, cells = _both(results.ranked, results.criteria, config, tmp_path, monkeypatch)
    assert list(direct) == list(cells)
    assert direct == cells
    assert b"</row>" in direct["xl/worksheets/sheet1.xml"]  # the rows are there, not only the header


def test_text_that_needs_escaping_is_written_as_openpyxl_writes_it(results, config, tmp_path, monkeypatch):
    ranked = results.ranked.copy()
    names = ranked["school_name"].tolist()
    names[: len(HOSTILE)] = HOSTILE
    ranked["school_name"] = names
    ranked["ward"] = ranked["ward"].where(ranked.index % 2 == 0, "  phường 1 & 2 ")
    assert tables._plain(tables._safe_text(ranked[["school_name", "ward"]]).to_numpy().ravel())
    direct, cells = _both(ranked, results.criteria, config, tmp_path, monkeypatch)
    assert direct == cells


@pytest.mark.parametrize("value", ["#N/A", "a\x01b", "x" * 40_000, float("nan"), True,
                                   datetime(2026, 6, 9, 8, 0).astimezone()])
def test_a_value_openpyxl_treats_specially_sends_the_workbook_through_openpyxl(value):
    assert not tables._plain(["plain", value])
    assert tables._plain(["plain", 1, 2.5, None, datetime(2026, 6, 9, 8, 0)])


def test_the_same_results_give_the_same_workbook_bytes(results, config, tmp_path):
    """Nothing in ranking.xlsx comes from the clock: its members are dated 1980-01-01 and the workbook itself by its
    latest submission, so two writes (at any two times) are byte for byte the same file."""
    first, second = tmp_path / "first.xlsx", tmp_path / "second.xlsx"
    tables.ranking_xlsx(results.ranked, results.criteria, config, first)
    tables.ranking_xlsx(results.ranked, results.criteria, config, second)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as book:
        assert {info.date_time for info in book.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = book.read("docProps/core.xml").decode()
    latest = results.ranked["submitted_at"].max().tz_localize(None)
    assert core.count(f">{latest:%Y-%m-%dT%H:%M:%S}Z<") == 2  # created and modified


@given(st.lists(st.one_of(st.none(), st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1))),
                max_size=30),
       st.sampled_from(["Asia/Ho_Chi_Minh", "America/St_Johns", "Asia/Kathmandu", "UTC"]))
@settings(max_examples=60, deadline=None)
def test_instants_are_written_as_their_isoformat(stamps, zone):
    """results.json's and ranking.csv's times, made column-wise, are each instant's own `isoformat` (to the second
    for ranking.csv); a missing one stays missing."""
    instants = pd.Series(pd.to_datetime(stamps), dtype="datetime64[us]").dt.tz_localize(
        zone, ambiguous="NaT", nonexistent="NaT")
    expected = [None if pd.isna(t) else t.isoformat() for t in instants]
    assert [None if pd.isna(t) else t for t in iso_instants(instants)] == expected
    assert [None if pd.isna(t) else t for t in iso_instants(instants, seconds=True)] == \
        [None if t is None else t[:19] + t[-6:] if "." in t else t for t in expected]
