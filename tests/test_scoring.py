"""docs/spec.md §6: verdict, plan score, grade, status, ranking and wards, one rule per test."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import school

from antt.scoring.ranking import rank_schools, ward_table


def test_fully_compliant_school_meets_the_standard_with_full_score(sheet, run_core):
    sheet.add("THCS01")
    _, _, res = run_core(sheet)
    row = school(res, "THCS01")
    assert row["verdict"] == "dat" and row["score"] == 100.0 and row["grade"] == "xuat_sac"


def test_failing_a_mandatory_criterion_fails_the_verdict(sheet, run_core):
    sheet.add("MN01", B3="Không")  # K1 mandatory
    _, _, res = run_core(sheet)
    row = school(res, "MN01")
    assert row["verdict"] == "chua_dat" and row["failed"] == "K1"


def test_incident_count_above_zero_fails_its_criterion(sheet, run_core):
    sheet.add("MN01", D8="1")  # child abuse case → K6
    _, _, res = run_core(sheet)
    assert school(res, "MN01")["verdict"] == "chua_dat"
    assert bool(res.criteria.loc["MN01", "K6"]) is False


def test_optional_criteria_failures_pass_while_share_reaches_80_percent(sheet, run_core):
    sheet.add("MN01", D9="Có")  # K10 (not mandatory) fails: 9 of 10 = 90%
    sheet.add("MN02", D9="Có", C9="")  # K9 and K10 fail: 8 of 10 = 80%, still enough
    _, _, res = run_core(sheet)
    assert school(res, "MN01")["verdict"] == "dat" and school(res, "MN02")["verdict"] == "dat"


def test_share_below_pass_share_fails_even_with_mandatory_met(config, sheet, run_core):
    strict = config.criteria.model_copy(update={"pass_share": 0.95})
    sets = dict(config.criteria_sets) | {strict.id: strict}
    from antt.scoring.criteria import evaluate_criteria, verdicts

    sheet.add("MN01", D9="Có")
    _, _, res = run_core(sheet)
    assert verdicts(evaluate_criteria(res.counted, sets["tt23-2012"], config.form), strict).loc["MN01", "verdict"] \
        == "chua_dat"


def test_commitment_criterion_checks_students_only_where_it_applies(sheet, run_core):
    sheet.add("TH01")                   # TH: B6/A7 do not apply
    sheet.add("THCS01", B6="500")       # THCS: 500 of 600 signed → K3 fails
    _, _, res = run_core(sheet)
    assert bool(res.criteria.loc["TH01", "K3"]) is True
    assert bool(res.criteria.loc["THCS01", "K3"]) is False


def test_unanswered_fails_where_zero_passes(sheet, run_core):
    sheet.add("MN01", B1="")            # no answer: briefed share earns nothing
    sheet.add("MN02", C2="0")           # zero sessions
    sheet.add("MN03")
    _, _, res = run_core(sheet)
    assert res.points.loc["MN01", "L1"] == 0 and res.points.loc["MN03", "L1"] == 8
    assert res.points.loc["MN02", "P2"] == 0


def test_not_applicable_indicator_is_dropped_and_score_renormalised(sheet, run_core):
    sheet.add("MN01", C7="Không")       # MN: C6 (4 points) does not apply; loses C7's 4 of 96 possible
    sheet.add("TH01", C7="Không")       # TH: loses 4 of 100
    _, _, res = run_core(sheet)
    assert pd.isna(res.points.loc["MN01", "P5"])
    assert school(res, "MN01")["score"] == pytest.approx(round(92 / 96 * 100, 1))
    assert school(res, "TH01")["score"] == 96.0


def test_ratio_indicator_earns_in_proportion(sheet, run_core):
    sheet.add("MN01", B1="20")          # 20 of 40 briefed → half of 8 points
    _, _, res = run_core(sheet)
    assert res.points.loc["MN01", "L1"] == pytest.approx(4.0)


def test_share_of_sub_plans_earns_in_proportion(config, sheet, run_core):
    options = config.form.by_id["C1"].options
    sheet.add("MN01", C1=", ".join(options[:2]))  # 2 of 8 → 2.5 of 10
    _, _, res = run_core(sheet)
    assert res.points.loc["MN01", "P1"] == pytest.approx(2.5)


def test_late_submission_earns_partial_timeliness(sheet, run_core):
    sheet.add("MN01", at="12/6/2026 8:00:00")
    _, _, res = run_core(sheet)
    assert res.points.loc["MN01", "O3"] == pytest.approx(3.5)
    assert school(res, "MN01")["score"] == pytest.approx(round((96 - 3.5) / 96 * 100, 1))


@pytest.mark.parametrize("at,on_time", [("9/6/2026 23:59:59", True), ("10/6/2026 0:00:00", False),
                                        ("10/6/2026 0:00:01", False)])
def test_h1_deadline_boundary(sheet, run_core, at, on_time):
    sheet.add("MN01", at=at)
    _, _, res = run_core(sheet)
    assert bool(school(res, "MN01")["on_time"]) is on_time


@pytest.mark.parametrize("at,on_time", [("9/11/2026 23:59:59", True), ("10/11/2026 0:00:01", False)])
def test_annual_deadline_boundary(sheet, run_core, at, on_time):
    sheet.add("MN01", at=at)
    _, _, res = run_core(sheet, "2026-Y")
    assert bool(school(res, "MN01")["on_time"]) is on_time


def test_collection_window_closes_at_end_of_15_june(sheet, run_core):
    sheet.add("MN01", at="15/6/2026 23:59:59")
    sheet.add("MN02", at="16/6/2026 0:00:00")
    _, _, res = run_core(sheet)
    assert school(res, "MN01")["status"] == "submitted" and school(res, "MN02")["status"] == "missing"


@pytest.mark.parametrize("score,grade", [(90.0, "xuat_sac"), (89.9, "kha"), (70.0, "kha"), (69.9, "trung_binh"),
                                         (50.0, "trung_binh"), (49.9, "yeu"), (0.0, "yeu")])
def test_grade_bands(config, score, grade):
    from antt.scoring.indicators import grade as grade_of

    assert grade_of(pd.Series([score], dtype="Float64"), config.scoring).iloc[0] == grade


def test_status_of_every_registered_school(sheet, run_core, registry):
    sheet.add("MN01")
    sheet.add("MN02", D1="")           # blocking error only → needs_correction
    _, _, res = run_core(sheet)
    statuses = res.ranked.set_index("school_code")["status"]
    assert statuses["MN01"] == "submitted" and statuses["MN02"] == "needs_correction"
    assert statuses.drop(["MN01", "MN02"]).eq("missing").all()


def test_school_not_open_during_the_cycle_is_not_expected(run_core, sheet):
    _, _, res = run_core(sheet, "2026-H1")
    codes = set(res.ranked["school_code"])
    assert "MN25" not in codes and "TH19" not in codes  # opens 01/09/2026; closed 31/12/2025
    _, _, res_y = run_core(sheet, "2026-Y")
    assert "MN25" in set(res_y.ranked["school_code"])


def _table(rows):
    df = pd.DataFrame(rows, columns=["school_code", "level", "ward", "status", "verdict", "score", "on_time",
                                     "submitted_at"])
    df["score"] = df["score"].astype("Float64")
    df["on_time"] = df["on_time"].astype("boolean")
    df["submitted_at"] = pd.to_datetime(df["submitted_at"]).dt.tz_localize("Asia/Ho_Chi_Minh")
    return df


def test_competition_ranking_with_ties_and_tie_order():
    t = _table([
        ("C", "TH", "w1", "submitted", "dat", 90.0, True, "2026-06-05 08:00"),
        ("B", "TH", "w1", "submitted", "dat", 90.0, False, "2026-06-01 08:00"),
        ("A", "MN", "w1", "submitted", "dat", 90.0, True, "2026-06-05 08:00"),
        ("D", "MN", "w2", "submitted", "dat", 95.0, True, "2026-06-07 08:00"),
        ("E", "MN", "w2", "submitted", "chua_dat", 99.0, True, "2026-06-01 08:00"),
        ("F", "MN", "w2", "needs_correction", None, None, None, None),
        ("G", "TH", "w2", "missing", None, None, None, None),
        ("H", "TH", "w2", "missing", None, None, None, None),
    ])
    ranked = rank_schools(t)
    assert list(ranked["school_code"]) == ["D", "A", "C", "B", "E", "F", "G", "H"]
    assert list(ranked["rank_overall"]) == [1, 2, 2, 2, 5, 6, 7, 7]
    by_code = ranked.set_index("school_code")
    assert by_code.loc["A", "rank_in_level"] == 2 and by_code.loc["D", "rank_in_level"] == 1
    assert list(by_code.loc[["C", "B", "G", "H"], "rank_in_level"]) == [1, 1, 3, 3]


def test_verdict_outranks_score():
    ranked = rank_schools(_table([
        ("X", "MN", "w", "submitted", "chua_dat", 99.0, True, "2026-06-01 08:00"),
        ("Y", "MN", "w", "submitted", "dat", 60.0, True, "2026-06-01 08:00"),
    ]))
    assert list(ranked["school_code"]) == ["Y", "X"]


def test_ward_table_marks_wards_reaching_70_percent():
    ranked = rank_schools(_table([
        ("A", "MN", "w1", "submitted", "dat", 90.0, True, "2026-06-01 08:00"),
        ("B", "MN", "w1", "submitted", "dat", 90.0, True, "2026-06-01 08:00"),
        ("C", "MN", "w1", "submitted", "chua_dat", 50.0, True, "2026-06-01 08:00"),
        ("D", "MN", "w2", "submitted", "dat", 90.0, True, "2026-06-01 08:00"),
        ("E", "MN", "w2", "missing", None, None, None, None),
    ]))
    wards = ward_table(ranked, 0.7).set_index("ward")
    assert wards.loc["w1", "expected"] == 3 and wards.loc["w1", "dat"] == 2 and not wards.loc["w1", "reaches_target"]
    assert wards.loc["w2", "share_dat"] == 0.5 and not wards.loc["w2", "reaches_target"]
    wards = ward_table(ranked, 0.6).set_index("ward")
    assert wards.loc["w1", "reaches_target"]


def test_tt124_verdict_only_for_lower_secondary_and_up(sheet, run_core):
    sheet.add("TH01")
    sheet.add("THCS01", D2="1")
    _, _, res = run_core(sheet)
    assert pd.isna(res.other_verdicts.loc["TH01", "tt124-2021"])
    assert res.other_verdicts.loc["THCS01", "tt124-2021"] == "chua_dat"
