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


def test_the_suite_validated_in_two_processes_gives_the_one_result_of_one_process(tmp_path, config, registry):
    cycle = resolve_cycle("2026-H1", config.cycles)
    raw = read_export(write_demo_sheet(tmp_path / "demo.csv", config, registry, ["2026-H1", "2026-Y"]))
    subs, _header = normalize(raw, config.form, registry, cycle)
    suite = build_suite(config.form, cycle, set(subs.columns))
    assert len({e.configuration.type for e in suite.expectations[0::2]}) > 1  # both halves hold several kinds

    one, two = run_suite(subs, suite), run_suite(subs, suite, processes=2)

    assert [r.to_json_dict() for r in two.results] == [r.to_json_dict() for r in one.results]
    assert (two.success, two.statistics, two.suite_name) == (one.success, one.statistics, one.suite_name)
    assert two.meta["active_batch_definition"] == one.meta["active_batch_definition"] and two.batch_id == one.batch_id
    assert not one.success and one.statistics["unsuccessful_expectations"] >= 5


def test_the_suite_lists_its_expectations_in_the_order_gx_validates_them(config):
    """GX groups a suite's expectations by column before it validates them; the suite is written so already."""
    cycle = resolve_cycle("2026-H1", config.cycles)
    columns = {f"{q.id}__invalid" for q in config.form.questions} | {"_school_zeros", "_sender_check"}
    suite = build_suite(config.form, cycle, columns)
    keys = [e.configuration.kwargs.get("column") for e in suite.expectations]
    groups = [k for i, k in enumerate(keys) if i == 0 or k != keys[i - 1]]
    assert len(groups) == len(set(groups))  # each column's expectations (and the pairs') side by side
