"""The demo response sheet looks like a real Google Sheets CSV export and is reproducible."""

from __future__ import annotations

import csv
import io
import unicodedata
from datetime import datetime
from pathlib import Path

import pytest

from antt.config import load_config
from antt.cycles import resolve_cycle
from antt.demo.build import build_demo, demo_responses, write_demo_sheet
from antt.intake.registry import load_registry

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"
CYCLES = ["2026-H1", "2026-Y"]


@pytest.fixture(scope="module")
def config():
    return load_config(CONFIG_DIR)


@pytest.fixture(scope="module")
def registry(config):
    return load_registry(CONFIG_DIR / "schools.csv", config.form.levels)


@pytest.fixture(scope="module")
def rows(config, registry):
    return list(csv.reader(io.StringIO(demo_responses(config, registry, CYCLES), newline="")))


def test_same_seed_gives_the_same_bytes(config, registry, tmp_path):
    written = write_demo_sheet(tmp_path / "responses.csv", config, registry, CYCLES, seed=7)
    assert written.read_bytes() == demo_responses(config, registry, CYCLES, seed=7).encode("utf-8")
    assert demo_responses(config, registry, CYCLES, seed=7) == demo_responses(config, registry, CYCLES, seed=7)
    assert demo_responses(config, registry, CYCLES, seed=8) != demo_responses(config, registry, CYCLES, seed=7)
    assert [p.name for p in tmp_path.iterdir()] == ["responses.csv"]


def test_header_is_timestamp_email_then_every_question_title(config, rows):
    form = config.form
    assert rows[0][:2] == [form.timestamp_headers[0], form.email_headers[0]]
    assert rows[0][2:2 + len(form.questions)] == [q.title for q in form.questions]
    assert all(len(r) == len(rows[0]) for r in rows)


def test_every_expected_school_submits_except_the_designed_missing(config, registry, rows):
    sheet = build_demo(config, registry, CYCLES)
    for cycle_id in CYCLES:
        cycle = resolve_cycle(cycle_id, config.cycles)
        tz = cycle.opens_at.tzinfo
        in_window = {r[2].split(" – ")[0] for r in rows[1:] if r[0]
                     and cycle.opens_at <= datetime.strptime(r[0], "%d/%m/%Y %H:%M:%S").replace(tzinfo=tz)
                     < cycle.closes_at}
        missing = set(sheet.missing[cycle_id])
        assert 3 <= len(missing) <= 6
        assert set(sheet.expected[cycle_id]) - missing <= in_window
        assert not missing & in_window


def test_checkbox_cells_join_whole_option_texts_with_comma_space(config, rows):
    seen_option_with_comma = False
    for i, q in enumerate(config.form.questions, start=2):
        if q.type != "select_multiple":
            continue
        for row in rows[1:]:
            cell = unicodedata.normalize("NFC", row[i])
            if not cell:
                continue
            ticked = [o for o in q.options if f", {o}, " in f", {cell}, "]
            assert ", ".join(ticked) == cell, (q.id, cell)
            seen_option_with_comma |= any(", " in o for o in ticked)
    assert seen_option_with_comma


def test_demo_data_lives_in_data_files_not_python():
    """Names, answers and the mix of problems come from antt/demo/data/*.yaml (package data, shipped in the wheel):
    the demo's Python holds no Vietnamese."""
    package = Path(__file__).resolve().parents[1] / "antt" / "demo"
    assert sorted(p.name for p in (package / "data").glob("*.yaml")) == ["answers.yaml", "mess.yaml", "people.yaml"]
    for module in package.glob("*.py"):
        text = module.read_text(encoding="utf-8")
        assert text.isascii(), (module.name, sorted({ch for ch in text if not ch.isascii()}))
