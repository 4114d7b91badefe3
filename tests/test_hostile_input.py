"""Issue 8 item 1, docs/spec.md §4 "handled and reported, never a crash": hostile response sheets, made by hypothesis.

Every sheet mixes known-good submissions with rows in which some cells hold anything Unicode allows (control
characters, bidi and zero-width marks, 100 KB strings, numbers and dates that almost parse), under headers that are
shuffled, duplicated, blank, unknown or missing. It is written as a CSV export and goes through the real core:
read → normalise → validate (the Great Expectations suite) → score → rank.

Runs are reproducible (derandomized, no example database). `pytest -s` prints how many cases ran.
"""

from __future__ import annotations

import codecs
import csv
import io
import unicodedata
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, Sheet, evaluate, school
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antt.config import load_config
from antt.cycles import resolve_cycle
from antt.errors import AnttError, InputError
from antt.intake.normalize import match_headers, parse_school
from antt.intake.registry import expected_in, load_registry
from antt.sources.files import read_export
from antt.sources.raw import RawTable
from antt.text import _INVISIBLE, _SPACES, clean_cell, clean_series

pytestmark = pytest.mark.usefixtures("english_module")  # these tests check the messages' English words

# One validation costs 1-2 s (the suite has ~80 expectations), so the sheets that reach it are few and dense;
# the checks that stop before it (reading, missing columns) run many more.
settings.register_profile("hostile", max_examples=45, deadline=None, derandomize=True, database=None,
                          print_blob=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                  HealthCheck.large_base_example])
HOSTILE = settings.get_profile("hostile")
CASES: Counter[str] = Counter()
# Loaded here rather than taken as fixtures, so that a failing example prints the sheet, not the whole config.
CONFIG = load_config(REPO / "config")
REGISTRY = load_registry(REPO / "config" / "schools.csv", CONFIG.form.levels)
CYCLE = resolve_cycle("2026-H1", CONFIG.cycles)

# What nobody sees in a cell: zero-width characters, bidi marks (left-to-right, right-to-left, Arabic letter mark,
# embeddings, overrides, isolates), BOM, soft hyphen. docs/spec.md §4 compares text only after normalising it, and the
# normalised form (antt.text) leaves these out: a school code carrying them is still the school's code.
INVISIBLE = ("\u200b\u200c\u200d\u2060\ufeff\u00ad"  # zero-width space, (non-)joiner, word joiner, BOM, soft hyphen
             "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")  # bidi marks
NEAR_MISSES = [
    "1.200", "1,200", "1.2.3", "-5", "+7", "1e5", "0x10", "99999999999999999999", "１２", "١٢٣", "12 ", "½",
    "∞", "NaN", "None", "null", "-0", "0,5", "1.200,5", "95%", "%", ",", ".", "--1", "0912 345 678", "+84912345678",
    "29/02/2025", "31/04/2026", "00/01/2026", "1/1/1", "01/01/0001", "31/12/9999", "2026-13-01", "١/٦/٢٠٢٦",
    "9/6/2026 25:00:00", "9/6/2026 8:00:00 PM", "01/01/1677 00:00:00", "31/12/9999 23:59:59", "=1+1", "@SUM(A1)",
    "Có, Không", "CÓ\u200b", "Khong", "có có", "Đạt ", "đạt", "http://", "https:// x", "javascript:alert(1)",
    "– Trường Mầm non", "—", "[", "[MN01", "MN01]", "MN01\u200b – ?", "\u202eMN01",
]


@st.composite
def long_text(draw) -> str:
    """A 100 KB cell: a short piece of any text, repeated."""
    piece = draw(st.text(min_size=1, max_size=6))
    return (piece * (100_000 // len(piece) + 1))[:100_000]


hostile_text = st.one_of(
    st.text(),  # any Unicode (hypothesis leaves out lone surrogates, which no file or sheet can hold)
    st.text(st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp", "Mn"])),  # only what cannot be seen
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=4).map(str.upper),
    st.sampled_from(NEAR_MISSES),
    long_text(),
)


@st.composite
def school_cell(draw, code: str, name: str) -> str:
    """'CODE – name' as a school picks it, with invisible marks inside the code and its case changed."""
    code = draw(st.sampled_from([code, code.lower(), code.title()]))
    for mark in draw(st.lists(st.sampled_from(INVISIBLE), max_size=3)):
        at = draw(st.integers(0, len(code)))
        code = code[:at] + mark + code[at:]
    return code + draw(st.sampled_from([" – ", " - ", "\u00a0– ", " –\u200f "])) + name


def header_variants(canonical: list[str]) -> list[list[str]]:
    """Each canonical column's header as Google Forms, another language or a hand-edited sheet may write it."""
    variants = [["Dấu thời gian", "Timestamp", "DẤU THỜI GIAN", "\u200bDấu thời gian"],
                ["Địa chỉ email", "Email Address", " địa chỉ  EMAIL "]]
    for q in CONFIG.form.questions:
        variants.append([q.title, f"[{q.id}] {q.label}", unicodedata.normalize("NFD", q.label),
                         f"  {q.label.upper()}  ", f"{q.id}.\u200f {q.label}"])
    assert len(variants) == len(canonical)
    return variants


def is_unknown(header: str, canonical: list[str]) -> bool:
    """Whether the real header matcher takes this extra header for a column outside the form."""
    return (len(canonical), header) in match_headers(canonical + [header], CONFIG.form).unknown


@st.composite
def layouts(draw, canonical: list[str], droppable: list[int]) -> list[tuple[int | None, str]]:
    """(canonical column it holds, or None for one outside the form; header) per column. Shuffled, with header
    variants, some droppable columns left out, some duplicated, plus unknown and blank ones."""
    variants = header_variants(canonical)
    dropped = set(draw(st.lists(st.sampled_from(droppable), max_size=6, unique=True)))
    columns = [(i, draw(st.sampled_from(variants[i]))) for i in range(len(canonical)) if i not in dropped]
    for i in draw(st.lists(st.sampled_from([i for i, _ in columns]), max_size=3)):
        columns.append((i, draw(st.sampled_from(variants[i]))))
    for header in draw(st.lists(hostile_text, max_size=2)):
        columns.append((None, header if is_unknown(header, canonical) else f"Ghi chú {header}"))
    columns += [(None, draw(st.sampled_from(["", " ", "\u200b"])))] * draw(st.integers(0, 2))
    return [columns[i] for i in draw(st.permutations(range(len(columns))))]


@given(st.lists(st.one_of(hostile_text, st.none()), max_size=20))
@settings(max_examples=300, deadline=None)
def test_a_registry_column_is_cleaned_as_its_definition_says(cells):
    """`clean_series` (cell by cell, most cells skipping the regexes) gives what its definition gives over the whole
    column with pandas' string methods: NFC, invisible marks removed, whitespace collapsed, stripped, '' missing."""
    column = pd.Series(cells, dtype="string")
    expected = column.str.normalize("NFC").str.replace(_INVISIBLE, "", regex=True)
    expected = expected.str.replace(_SPACES, " ", regex=True).str.strip()
    assert clean_series(column).equals(expected.mask(expected == ""))


def place(layout: list[tuple[int | None, str]], values: list[str], outside: list[str]) -> list[str]:
    """A row in the layout's column order: every copy of a column gets its value; outside columns take `outside`."""
    spare = iter(outside)
    return [values[i] if i is not None else next(spare, "") for i, _ in layout]


def _code_of(cell: str) -> str | None:
    cleaned = clean_cell(cell)
    return None if cleaned is None else parse_school(pd.Series([cleaned], dtype="str")).iloc[0]


def _row_values(helper: Sheet, code: str) -> list[str]:
    """A complete compliant row in canonical column order (timestamp, e-mail, answers)."""
    helper.rows.clear()
    helper.add(code)
    return list(helper.rows[0])


@st.composite
def hostile_sheets(draw) -> tuple[list[list[str]], dict[str, int]]:
    """(rows with the header first, {good school: its sheet row}): good submissions and hostile rows in one sheet.

    Columns that criteria read, required ones and F2 (required when F1 = Có) are never dropped, so a good row's
    verdict does not depend on the layout. Hostile rows belong to other schools, or to none."""
    helper = Sheet(CONFIG, REGISTRY)
    canonical = helper.headers
    criteria_inputs = {c.question for k in CONFIG.criteria.criteria for c in k.conditions} | \
        {c.other for k in CONFIG.criteria.criteria for c in k.conditions if c.other}
    droppable = [1] + [i + 2 for i, q in enumerate(CONFIG.form.questions)
                       if not (q.required or q.required_if or q.options_from) and q.id not in criteria_inputs]
    layout = draw(layouts(canonical, droppable))
    width = len(layout)
    codes = list(expected_in(REGISTRY, CYCLE)["school_code"])
    names = REGISTRY.set_index("school_code")["school_name"]
    good = draw(st.lists(st.sampled_from(codes), min_size=1, max_size=3, unique=True))
    rows: list[tuple[str, list[str]]] = []
    for code in good:
        values = _row_values(helper, code)
        values[2] = draw(school_cell(code, names[code]))
        rows.append((code, place(layout, values, [""] * width)))
    # A hostile row must not pass for one of the good schools: it could then be the submission counted.
    other_school = hostile_text.filter(lambda t: _code_of(t) not in good)
    for _ in range(draw(st.integers(1, 3))):
        values = _row_values(helper, draw(st.sampled_from([c for c in codes if c not in good] + ["XX99"])))
        values[0] = draw(st.one_of(st.sampled_from(["9/6/2026 8:00:00", "12/6/2026 8:00:00", "5/11/2025 9:00:00"]),
                                   hostile_text))
        values[1] = draw(st.one_of(st.just(values[1]), hostile_text))
        for i in draw(st.lists(st.integers(2, len(values) - 1), min_size=1, max_size=8, unique=True)):
            values[i] = draw(other_school if i == 2 else hostile_text)
        cells = place(layout, values, [draw(hostile_text) for _ in range(width)])
        for i, (column, _) in enumerate(layout):
            if column not in (None, 2) and draw(st.integers(0, 9)) == 0:
                cells[i] = draw(hostile_text)  # a few more, copies of a duplicated column included
        if draw(st.booleans()):
            cells = cells[:draw(st.integers(0, width))]  # trailing cells left out
        rows.append(("", cells))
    for _ in range(draw(st.integers(0, 2))):
        rows.append(("", [draw(st.sampled_from(["", " ", "\u200b", "\t\u200f"])) for _ in range(width)]))
    rows = [rows[i] for i in draw(st.permutations(range(len(rows))))]
    return [[h for _, h in layout]] + [cells for _, cells in rows], \
        {code: n for n, (code, _) in enumerate(rows, start=2) if code}


encodings = st.sampled_from(["utf-8", "utf-8-sig", "utf-16"])


def exported(rows: list[list[str]], encoding: str, folder: Path) -> tuple[Path, list[list[str]]]:
    """The rows written as a CSV export, and the rows as they should read back: a first header starting with
    U+FEFF loses it when there is no byte-order mark, since it then is one."""
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows(rows)
    path = folder / "responses.csv"
    path.write_bytes(buffer.getvalue().encode(encoding))
    if encoding == "utf-8" and rows and rows[0]:
        rows = [[rows[0][0].removeprefix("\ufeff")] + rows[0][1:]] + rows[1:]
    return path, rows


def read_back(rows: list[list[str]], encoding: str, folder: Path) -> RawTable:
    """Write the rows as an export, read it with the real reader, and check that every cell came back as written."""
    path, expected = exported(rows, encoding, folder)
    raw = read_export(path)
    want = RawTable.from_rows(expected, source="")
    assert raw.headers == want.headers
    pd.testing.assert_frame_equal(raw.cells, want.cells)
    return raw


def rejected_cells(raw: RawTable, subs: pd.DataFrame) -> list[tuple[int, str]]:
    """(sheet row, question) of every in-cycle answer given but not read, found from the cells themselves: a
    non-blank cell whose typed value is missing, a checkbox answer with text left over, a school not in the
    registry, an unreadable timestamp ('' for the question)."""
    header = match_headers(raw.headers, CONFIG.form)
    levels = REGISTRY.set_index("school_code")["level"]
    rows = subs.set_index("sheet_row")
    found = []
    for q in CONFIG.form.questions:
        pos = header.positions.get(q.id)
        if pos is None or q.type == "text":
            continue
        given = raw.cells[pos].map(clean_cell).reindex(rows.index)
        level = rows["school_code"].map(levels)
        applies = level.isna() | level.isin(q.applies_to) if q.applies_to else True
        if q.options_from:
            unread = ~rows["school_code"].isin(levels.index)
        elif q.type == "select_multiple":
            unread = rows[f"{q.id}__unknown"].notna()
        else:
            unread = rows[q.id].isna()
        found += [(int(r), q.id) for r in rows.index[given.notna() & rows["_in_cycle"] & applies & unread]]
    stamp = raw.cells[header.positions["submitted_at"]].map(clean_cell).reindex(rows.index)
    found += [(int(r), "") for r in rows.index[stamp.notna() & rows["submitted_at"].isna()]]
    return found


@pytest.fixture(scope="module", autouse=True)
def case_count():
    yield CASES
    print(f"\nhostile input: {sum(CASES.values())} generated cases ran ({dict(CASES)})")


@settings(HOSTILE, max_examples=45)
@given(sheet=hostile_sheets(), encoding=encodings)
def test_hostile_sheet_never_crashes_reports_every_rejected_cell_and_scores_the_good_rows(
        tmp_path_factory, sheet, encoding):
    rows, good = sheet
    if encoding == "utf-8" and any("\0" in cell for row in rows for cell in row):
        encoding = "utf-8-sig"  # without a byte-order mark, a zero byte makes the file binary (next test)
    CASES["hostile sheet, read and run through the core"] += 1
    raw = read_back(rows, encoding, tmp_path_factory.mktemp("sheet"))
    subs, issues, res = evaluate(raw, CONFIG, REGISTRY)

    assert set(issues["sheet_row"]) <= {1} | set(raw.cells.index)
    by_row = subs.set_index("sheet_row")
    for row, qid in rejected_cells(raw, subs):
        hit = issues[(issues["sheet_row"] == row) & (issues["question_id"] == qid)]
        if qid == "":
            hit = hit[hit["rule"] == "bad_timestamp"]
        assert len(hit) >= 1, f"sheet row {row}, question {qid or 'timestamp'}: rejected without an issue"
        code = by_row.loc[row, "school_code"]
        assert set(hit["school_code"]) == {"" if pd.isna(code) else code}

    for code, row in good.items():
        ranked = school(res, code)
        why = issues.loc[issues["sheet_row"] == row, ["rule", "question_id", "message"]].to_dict("records")
        assert ranked["status"] == "submitted" and ranked["verdict"] == "dat", (code, row, ranked["status"], why)
        assert 0 <= ranked["score"] <= 100
        assert res.counted.loc[code, "sheet_row"] == row
    assert sorted(res.ranked["school_code"]) == sorted(expected_in(REGISTRY, CYCLE)["school_code"])


@settings(HOSTILE, max_examples=8)
@given(data=st.data(), encoding=encodings)
def test_sheet_without_a_single_answer_ranks_every_school_missing(tmp_path_factory, data, encoding):
    layout = data.draw(layouts(Sheet(CONFIG, REGISTRY).headers, droppable=[1]))
    blank = st.text(st.sampled_from(" \t\u00a0\u3000" + INVISIBLE + "\x07\x1f\x7f"), max_size=5)
    body = data.draw(st.lists(st.lists(blank, max_size=len(layout)), max_size=4))
    CASES["sheet without answers"] += 1
    raw = read_back([[h for _, h in layout]] + body, encoding, tmp_path_factory.mktemp("blank"))
    subs, issues, res = evaluate(raw, CONFIG, REGISTRY)
    assert subs.empty and set(res.ranked["status"]) == {"missing"}
    assert (issues["rule"] == "blank_rows").sum() == (1 if body else 0)


@settings(HOSTILE, max_examples=60)
@given(data=st.data())
def test_missing_required_column_is_one_clear_error_naming_it(data):
    helper = Sheet(CONFIG, REGISTRY)
    required = {0: CONFIG.form.timestamp_headers[0]} | {i + 2: q.title for i, q in enumerate(CONFIG.form.questions)
                                                        if q.required or q.options_from}
    gone = data.draw(st.lists(st.sampled_from(sorted(required)), min_size=1, max_size=len(required), unique=True))
    CASES["missing required column"] += 1
    helper.add("MN01")
    keep = [i for i in range(len(helper.headers)) if i not in gone]
    rows = [[r[i] for i in keep] for r in [helper.headers] + helper.rows]
    with pytest.raises(AnttError) as caught:
        evaluate(RawTable.from_rows(rows, source="hypothesis"), CONFIG, REGISTRY)
    message = str(caught.value)
    assert isinstance(caught.value, InputError) and "\n" not in message
    if len(gone) <= 3:  # named; more are counted (`antt validate` lists them), never a list of every column
        assert message.startswith("the response sheet lacks required column(s)")
        assert all(f'"{required[i]}"' in message for i in gone)
    else:
        assert message.startswith(f"the response sheet lacks {len(gone)} of its {len(required)} required columns")
        assert f'"{required[min(gone)]}"' in message


@settings(HOSTILE, max_examples=300)
@given(headers=st.lists(hostile_text, min_size=1, max_size=6),
       body=st.lists(st.lists(hostile_text, max_size=7), max_size=5), encoding=encodings)
def test_csv_export_reads_back_every_cell_as_written(tmp_path_factory, headers, body, encoding):
    CASES["CSV export read back"] += 1
    folder = tmp_path_factory.mktemp("csv")
    path, expected = exported([headers] + body, encoding, folder)
    start = path.read_bytes()
    if encoding == "utf-8" and start[:4096].count(b"\0") * 10 > len(start[:4096]):
        # no byte-order mark: zero bytes, more than one in ten, say binary (a stray one is a character)
        with pytest.raises(InputError, match="binary content"):
            read_export(path)
    elif not any(h.strip() for h in expected[0]):
        with pytest.raises(InputError, match="no column headers|file is empty"):
            read_export(path)
    elif encoding != "utf-16" and start.removeprefix(codecs.BOM_UTF8).lstrip().startswith(b"<"):
        with pytest.raises(InputError, match="web page"):
            read_export(path)
    elif max(bare_separators(headers).values()) >= len(headers) - 1:
        # The header cells hold as many bare ';' or tabs as there are commas between them: the separator comes from
        # the header line alone, so the file may read as separated by those. Whatever is read is said in one line.
        try:
            raw = read_export(path)
        except InputError as exc:
            assert "\n" not in str(exc)
        else:
            if raw.read_as["separator"] == ",":
                read_back([headers] + body, encoding, folder)
    else:
        read_back([headers] + body, encoding, folder)


def bare_separators(headers: list[str]) -> dict[str, int]:
    """The ';' and tabs a comma CSV writer leaves unquoted in the header line (it quotes a cell only for a comma,
    a quotation mark or a line break)."""
    bare = [h for h in headers if not any(c in h for c in ',"\r\n')]
    return {separator: sum(h.count(separator) for h in bare) for separator in (";", "\t")}
