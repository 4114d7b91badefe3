"""The one validation of a run: what `run_suite` hands Great Expectations is its own choice of layout (the suite's
columns, `sheet_row` first, text as object columns, text columns with no value as numbers); the results must be those
of the frame as normalised."""

from __future__ import annotations

from antt.checks.suite import build_suite
from antt.checks.validate import batch_definition, run_suite, suite_columns
from antt.cycles import resolve_cycle
from antt.demo.build import write_demo_sheet
from antt.intake.normalize import normalize
from antt.sources.files import read_export


def test_the_suites_results_do_not_depend_on_the_frames_layout(tmp_path, config, registry):
    cycle = resolve_cycle("2026-H1", config.cycles)
    raw = read_export(write_demo_sheet(tmp_path / "demo.csv", config, registry, ["2026-H1", "2026-Y"]))
    subs, _header = normalize(raw, config.form, registry, cycle)
    suite = build_suite(config.form, cycle, set(subs.columns))

    empty = [c for c in suite_columns(suite) if subs[c].isna().all()]
    assert empty and len(empty) < len(suite_columns(suite)) - 20  # both kinds of column are there

    ours = run_suite(subs, suite)
    as_normalised = batch_definition().get_batch(batch_parameters={"dataframe": subs[suite_columns(suite)]}).validate(
        suite, result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["sheet_row"]})

    assert [r.to_json_dict() for r in ours.results] == [r.to_json_dict() for r in as_normalised.results]
    failed = [r for r in ours.results if not r.success]
    assert len(failed) >= 5 and all(r.result["unexpected_index_list"] for r in failed)
