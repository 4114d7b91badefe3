"""The Google Forms source (issue 14): google-auth's AuthorizedSession against a fake Forms API v1 on loopback."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from fake_forms import FORMS_BODY, form_resource, question_id
from fake_sheets import CLIENT_EMAIL

from antt.demo.build import build_demo
from antt.errors import InputError
from antt.forms.apps_script import form_data
from antt.sources.files import read_export
from antt.sources.gform import fetch_form, parse_spec, preflight, read_snapshot, snapshots
from antt.sources.raw import RawTable

FORM_ID = "1FAIpQLfakeFormId0123456789abcdefghijklmnop"
FAST = {"timeout": 1.0, "backoff": 0.01, "max_delay": 10.0}
ZONE = "Asia/Ho_Chi_Minh"
HEADERS = ("Dấu thời gian", "Địa chỉ email")


@pytest.fixture
def fake(fake_forms):
    return fake_forms


@pytest.fixture
def out(tmp_path):
    return tmp_path / "out"


@pytest.fixture
def google_form(config, registry):
    """The Form resource Google holds after the exported Apps Script ran."""
    return form_resource(FORM_ID, form_data(config, registry))


def fetch(out, spec=f"gform:{FORM_ID}", **kwargs):
    return fetch_form(spec, out, timezone=ZONE, headers=HEADERS, **FAST | kwargs)


def zulu(local: str) -> str:
    """'9/6/2026 8:00:00' (office time, as the Sheet shows it) → RFC 3339 UTC, as the Forms API gives it."""
    moment = datetime.strptime(local, "%d/%m/%Y %H:%M:%S").replace(tzinfo=ZoneInfo(ZONE))
    return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"


def split_options(cell: str, options: list[str]) -> list[str]:
    """A Sheet's checkbox cell back into the separate values the API gives: known options whole, longest first;
    what is left is one "Other" text."""
    rest, found = f", {cell}, ", []
    for option in sorted(options, key=len, reverse=True):
        if f", {option}, " in rest:
            found.append(option)
            rest = rest.replace(f", {option}, ", ", ")
    leftover = rest.strip(", ")
    return [o for o in options if o in found] + ([leftover] if leftover else [])


def as_responses(sheet, config, created: datetime | None = None) -> list[dict]:
    """The Forms API's view of the rows of a response Sheet: one FormResponse per row, created in row order (the
    linked Sheet appends rows as responses are first submitted), answers keyed by Google's question ids."""
    return rows_as_responses(sheet.rows, config, created)


def rows_as_responses(rows: list[list[str]], config, created: datetime | None = None) -> list[dict]:
    """`as_responses` for rows of cells (timestamp, e-mail, then every question in form order); a blank row, which
    a form cannot send, is left out."""
    created = created or datetime(2026, 4, 1, tzinfo=ZoneInfo("UTC"))
    responses = []
    for n, row in enumerate(r for r in rows if any(r)):
        answers = {}
        for q, cell in zip(config.form.questions, row[2:], strict=True):
            if not cell:
                continue
            values = split_options(cell, q.options or []) if q.type == "select_multiple" else [cell]
            if q.type == "date" and re.fullmatch(r"\d\d/\d\d/\d{4}", cell):
                values = [datetime.strptime(cell, "%d/%m/%Y").date().isoformat()]
            qid = question_id(q.id)
            answers[qid] = {"questionId": qid, "textAnswers": {"answers": [{"value": v} for v in values]}}
        responses.append({"responseId": f"ACYDBNj{n:05d}", "createTime": (created + timedelta(seconds=n))
                          .strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "lastSubmittedTime": zulu(row[0]),
                          "respondentEmail": row[1], "answers": answers})
    return responses


# -- reading ------------------------------------------------------------------------------------------------------

def test_a_form_reads_as_the_raw_table_of_its_linked_sheet(fake, sheet, config, google_form, out, tmp_path):
    sheet.add("MN01")
    sheet.add("TH01", at="8/6/2026 17:30:05", A4="0987654321", C2="12")
    sheet.add("THCS01", F3="20.000.000", G2="Trường có 1.200 học sinh, 0,95 đạt")
    fake.add_form(google_form, as_responses(sheet, config))
    raw, archived = fetch(out)
    export = read_export(sheet.write_csv(tmp_path / "export.csv"))
    assert raw.headers[2:] == export.headers[2:] and raw.headers[:2] == list(HEADERS)
    # The Sheet shows dates as typed (15/09/2025); the API gives ISO dates, which the parser reads the same.
    f2 = raw.headers.index(config.form.by_id["F2"].title)
    assert set(raw.cells[f2]) == {"2025-09-15"}
    pd.testing.assert_frame_equal(raw.cells.drop(columns=[0, f2]), export.cells.drop(columns=[0, f2]))
    assert list(raw.cells[0]) == ["09/06/2026 08:00:00", "08/06/2026 17:30:05", "09/06/2026 08:00:00"]
    assert archived.original == f"gform:{FORM_ID}" and archived.stored.suffix == ".json"


def test_a_cycle_from_the_form_scores_exactly_like_one_from_the_sheet(fake, sheet, config, google_form, out,
                                                                     run_core):
    sheet.add("MN01")
    sheet.add("TH01", D2="1")
    sheet.add("THCS01", at="10/6/2026 9:00:00")
    sheet.add("TH02", C9=config.form.by_id["C9"].options[0] + ", Đội bóng đá")  # an "Other" answer
    sheet.add("MN02", email="someone@else.example")
    fake.add_form(google_form, as_responses(sheet, config))
    raw, _ = fetch(out)
    subs_form, issues_form, from_form = run_core(raw)
    subs_sheet, issues_sheet, from_sheet = run_core(sheet)
    columns = ["school_code", "status", "on_time", "verdict", "score", "grade", "rank_overall", "rank_in_level"]
    pd.testing.assert_frame_equal(from_form.ranked[columns], from_sheet.ranked[columns])
    pd.testing.assert_frame_equal(issues_form, issues_sheet)
    assert (issues_form["question_id"] == "C9").any()


def test_sheet_row_is_one_plus_the_rank_by_create_time_ties_by_response_id(fake, config, google_form, out):
    def response(rid, created, submitted, email):
        return {"responseId": rid, "createTime": created, "lastSubmittedTime": submitted, "respondentEmail": email}
    fake.add_form(google_form, [
        response("B", "2026-06-02T00:00:00Z", "2026-06-02T00:00:00Z", "second@x.vn"),
        response("C", "2026-06-01T00:00:00Z", "2026-06-09T00:00:00Z", "first-edited-later@x.vn"),
        response("A", "2026-06-02T00:00:00Z", "2026-06-02T00:00:00Z", "tie-wins-by-id@x.vn")])
    raw, _ = fetch(out)
    assert dict(raw.cells[1]) == {2: "first-edited-later@x.vn", 3: "tie-wins-by-id@x.vn", 4: "second@x.vn"}
    assert raw.cells.loc[2, 0] == "09/06/2026 07:00:00"  # lastSubmittedTime, office time


def test_checkbox_values_arrive_separately_and_other_is_its_text(fake, config, google_form, out):
    options = config.form.by_id["C9"].options
    qid = question_id("C9")
    fake.add_form(google_form, [{"responseId": "R1", "createTime": "2026-06-01T00:00:00Z",
                                 "lastSubmittedTime": "2026-06-01T00:00:00Z", "respondentEmail": "a@x.vn",
                                 "answers": {qid: {"questionId": qid, "textAnswers": {"answers": [
                                     {"value": options[0]}, {"value": options[3]}, {"value": "Đội văn nghệ"}]}}}}])
    raw, _ = fetch(out)
    column = raw.headers.index(config.form.by_id["C9"].title)
    assert raw.cells.loc[2, column] == f"{options[0]}, {options[3]}, Đội văn nghệ"


def test_more_than_5000_responses_come_in_pages_of_5000(fake, config, google_form, out):
    fake.add_form(google_form, [{"responseId": f"R{i:05d}", "createTime": f"2026-06-01T{i // 3600:02d}:"
                                 f"{i // 60 % 60:02d}:{i % 60:02d}Z", "lastSubmittedTime": "2026-06-01T01:00:00Z",
                                 "respondentEmail": f"s{i}@x.vn"} for i in range(12001)])
    raw, archived = fetch(out)
    assert len(raw.cells) == 12001 and raw.cells.loc[12002, 1] == "s12000@x.vn"
    pages = fake.of_kind("responses")
    assert [p.query["pageSize"] for p in pages] == [["5000"]] * 3
    assert "pageToken" not in pages[0].query and all("pageToken" in p.query for p in pages[1:])
    assert len(json.loads(archived.stored.read_text())["pages"]) == 3


def test_a_second_fetch_asks_only_for_what_was_submitted_since_and_keeps_the_rest(fake, sheet, config, google_form,
                                                                                 out):
    sheet.add("MN01", at="2/6/2026 8:00:00")
    sheet.add("TH01", at="3/6/2026 8:00:00")
    first = as_responses(sheet, config)
    fake.add_form(google_form, first)
    fetch(out)
    assert "filter" not in fake.of_kind("responses")[0].query
    edited = dict(first[0], lastSubmittedTime=zulu("12/6/2026 10:00:00"))
    fake.put_response(FORM_ID, edited)
    raw, archived = fetch(out)
    (second,) = fake.of_kind("responses")[1:]
    assert second.query["filter"] == [f"timestamp >= {first[1]['lastSubmittedTime']}"]
    snapshot = json.loads(archived.stored.read_text())
    assert [r["responseId"] for r in snapshot["pages"][0]["responses"]] == [first[1]["responseId"],
                                                                           edited["responseId"]]
    assert list(raw.cells[0]) == ["12/06/2026 10:00:00", "03/06/2026 08:00:00"]  # rows still by createTime
    assert len(snapshots(f"gform:{FORM_ID}", out)) == 2


def test_the_fake_honours_the_timestamp_filter_as_google_does(fake, config, google_form, out):
    stamps = ["2026-06-01T00:00:00Z", "2026-06-02T00:00:00.5Z", "2026-06-03T00:00:00Z"]
    fake.add_form(google_form, [{"responseId": f"R{i}", "createTime": s, "lastSubmittedTime": s,
                                 "respondentEmail": f"{i}@x.vn"} for i, s in enumerate(stamps)])
    status, after = fake._list(FORM_ID, {"filter": "timestamp > 2026-06-02T00:00:00.5Z"})
    status, at_or_after = fake._list(FORM_ID, {"filter": "timestamp >= 2026-06-02T00:00:00.5Z"})
    assert [r["responseId"] for r in after["responses"]] == ["R2"]
    assert [r["responseId"] for r in at_or_after["responses"]] == ["R1", "R2"]


def test_titles_without_ids_are_matched_by_label(fake, sheet, config, google_form, out, run_core):
    for item in google_form["items"]:
        item["title"] = re.sub(r"^[A-G][0-9]+\. ", "", item["title"])
    sheet.add("MN01")
    fake.add_form(google_form, as_responses(sheet, config))
    raw, _ = fetch(out)
    *_, results = run_core(raw)
    assert results.ranked.set_index("school_code").loc["MN01", "status"] == "submitted"


def test_a_question_config_does_not_know_is_reported_not_fatal(fake, sheet, config, google_form, out, run_core):
    google_form["items"].append({"itemId": "99", "title": "Z9. Ý kiến khác", "questionItem": {
        "question": {"questionId": "7a7a7a7a", "textQuestion": {"paragraph": True}}}})
    sheet.add("MN01")
    responses = as_responses(sheet, config)
    responses[0]["answers"]["7a7a7a7a"] = {"questionId": "7a7a7a7a", "textAnswers": {"answers": [{"value": "x"}]}}
    fake.add_form(google_form, responses)
    raw, _ = fetch(out)
    _subs, issues, results = run_core(raw)
    assert results.ranked.set_index("school_code").loc["MN01", "status"] == "submitted"
    assert issues["message"].str.contains("Z9. Ý kiến khác").any()


def test_a_response_naming_a_question_the_form_lacks_is_one_line_after_archiving(fake, config, google_form, out):
    fake.add_form(google_form, [{"responseId": "R1", "createTime": "2026-06-01T00:00:00Z",
                                 "lastSubmittedTime": "2026-06-01T00:00:00Z", "answers": {
                                     "deadbeef": {"questionId": "deadbeef", "textAnswers": {"answers": []}}}}])
    with pytest.raises(InputError, match=r"^gform:\S+: câu trả lời R1 .*deadbeef") as failed:
        fetch(out)
    assert "\n" not in str(failed.value)
    assert len(snapshots(f"gform:{FORM_ID}", out)) == 1  # what was fetched is kept


def test_a_form_whose_items_do_not_match_the_config_is_one_line(fake, config, google_form, out, tmp_path):
    from antt.intake.normalize import match_headers

    google_form["items"] = [i for i in google_form["items"] if not i["title"].startswith("A1.")]
    fake.add_form(google_form, [])
    raw, _ = fetch(out)
    with pytest.raises(InputError, match="A1. Trường"):
        match_headers(raw.headers, config.form)


def test_the_demo_data_gives_the_same_results_from_either_source(fake, config, registry, google_form, out,
                                                                 run_core):
    """The demo sheet (NFD text, number formats, yes/no variants, duplicates, late and blocked rows, an impostor)
    sent through the form instead: every school's status, timeliness, verdict, score, grade and ranks agree."""
    demo = build_demo(config, registry, ["2026-H1", "2026-Y"])
    width = 2 + len(config.form.questions)  # the export's trailing blank column is the Sheet's, not the form's
    assert list(demo.headers[2:width]) == [q.title for q in config.form.questions]
    fake.add_form(google_form, rows_as_responses([list(r.cells[:width]) for r in demo.rows], config))
    raw, _ = fetch(out)
    sheet = RawTable.from_rows([list(demo.headers)] + [list(r.cells) for r in demo.rows], source="demo")
    columns = ["school_code", "status", "on_time", "verdict", "score", "grade", "rank_overall", "rank_in_level"]
    for cycle in ("2026-H1", "2026-Y"):
        *_, from_form = run_core(raw, cycle)
        *_, from_sheet = run_core(sheet, cycle)
        pd.testing.assert_frame_equal(from_form.ranked[columns], from_sheet.ranked[columns])
        assert set(from_form.ranked["status"]) == {"submitted", "needs_correction", "missing"}


# -- failures -----------------------------------------------------------------------------------------------------

def test_three_429s_in_a_row_are_waited_out_honouring_retry_after(fake, google_form, out):
    fake.add_form(google_form, [])
    fake.fail(429, times=3, on="responses", retry_after="1")
    fetch(out)
    reads = fake.of_kind("responses")
    assert [r.status for r in reads] == [429, 429, 429, 200]
    assert all(b.at - a.at >= 0.95 for a, b in zip(reads, reads[1:], strict=False))


def test_server_errors_are_retried_then_one_line(fake, google_form, out):
    fake.add_form(google_form, [])
    fake.fail(503, on="form")
    with pytest.raises(InputError, match=rf"^gform:{FORM_ID}: Google Forms trả lời 503 UNAVAILABLE.*sau 3 lần thử"):
        fetch(out, attempts=3)
    assert len(fake.of_kind("form")) == 3


def test_permission_denied_says_whom_to_share_the_form_with_and_is_not_retried(fake, google_form, out):
    fake.add_form(google_form, [])
    fake.fail(403, on="form")
    with pytest.raises(InputError, match=rf"403 PERMISSION_DENIED.*{re.escape(CLIENT_EMAIL)}") as failed:
        fetch(out)
    assert "\n" not in str(failed.value) and len(fake.of_kind("form")) == 1
    assert not (out / "raw").exists()


def test_unknown_form_is_404_with_what_to_do(fake, out):
    with pytest.raises(InputError, match=r"^gform:NoSuchForm0000: Google Forms trả lời 404 NOT_FOUND: .*dẫn") as e:
        fetch(out, spec="gform:NoSuchForm0000")
    assert "\n" not in str(e.value)


def test_credentials_without_the_scope_name_the_scopes(fake, google_form, out):
    fake.add_form(google_form, [])
    fake.grant = {FORMS_BODY}  # the responses scope is not granted
    with pytest.raises(InputError, match=r"403 PERMISSION_DENIED.*forms\.responses\.readonly"):
        fetch(out)


def test_a_truncated_page_is_one_line_and_archives_nothing(fake, google_form, out):
    fake.add_form(google_form, [])
    fake.malformed(on="responses")
    with pytest.raises(InputError, match=r"^gform:\S+: Google Forms gửi về câu trả lời bị cắt cụt"):
        fetch(out)
    assert not (out / "raw").exists()


def test_a_failed_fetch_keeps_and_names_the_last_good_snapshot(fake, google_form, out):
    fake.add_form(google_form, [])
    _, good = fetch(out)
    index = (out / "raw" / "index.jsonl").read_text()
    fake.fail(500)
    with pytest.raises(InputError, match=re.escape(str(good.stored))):
        fetch(out, attempts=2)
    assert (out / "raw" / "index.jsonl").read_text() == index


def test_requests_are_read_only_and_authorised(fake, google_form, out):
    fake.add_form(google_form, [])
    fetch(out)
    (token,) = fake.of_kind("token")
    assert set(token.claims["scope"].split()) == {FORMS_BODY, "https://www.googleapis.com/auth/forms.responses."
                                                  "readonly"}
    assert all(r.method == "GET" and r.authorization.startswith("Bearer ") for r in fake.of_kind("form", "responses"))


@pytest.mark.parametrize("spec", [f"gform:{FORM_ID}", f"gform:https://docs.google.com/forms/d/{FORM_ID}/edit",
                                  f"gform:https://docs.google.com/forms/d/{FORM_ID}/viewform?usp=sf_link"])
def test_spec_gives_the_form_id(spec):
    assert parse_spec(spec).form_id == FORM_ID


@pytest.mark.parametrize("spec,fragment", [
    ("gform:https://docs.google.com/forms/d/e/1FAIpQLSe0000000000/viewform", "/edit"),
    ("gform:https://example.org/x", "thanh địa chỉ"), ("gform:bad id", "gform:<mã hoặc đường dẫn biểu mẫu>")])
def test_bad_spec_is_one_line(spec, fragment):
    with pytest.raises(InputError, match=re.escape(fragment)):
        parse_spec(spec)


def test_preflight_checks_spec_and_credentials_without_a_request(fake):
    assert preflight(f"gform:{FORM_ID}").form_id == FORM_ID
    assert fake.requests == []


def test_an_archived_snapshot_reads_again_as_the_same_table(fake, sheet, config, google_form, out):
    sheet.add("MN01")
    fake.add_form(google_form, as_responses(sheet, config))
    raw, archived = fetch(out)
    again = read_snapshot(archived.stored, timezone=ZONE, headers=HEADERS)
    assert again.headers == raw.headers and again.cells.equals(raw.cells) and again.source == f"gform:{FORM_ID}"


# -- the command line ---------------------------------------------------------------------------------------------

def _env() -> dict:
    return {"ANTT_GOOGLE_CREDENTIALS": os.environ["ANTT_GOOGLE_CREDENTIALS"],
            "ANTT_FORMS_ENDPOINT": os.environ["ANTT_FORMS_ENDPOINT"]}


@pytest.mark.flow
def test_antt_run_on_the_form_ranks_like_the_sheet_export(prefect_api_url, fake, sheet, config, google_form,
                                                         tmp_path):
    """The command line, end to end: `antt run --source gform:ID` and the Sheet's export give the same statuses,
    verdicts, scores, ranks and issues."""
    from test_cli import antt

    sheet.add("MN01")
    sheet.add("TH01", D2="1")
    sheet.add("THCS01", at="12/6/2026 9:00:00")
    sheet.add("TH02", email="stranger@example.org")
    sheet.add("MN02", A5="", C2="nhiều")
    fake.add_form(google_form, as_responses(sheet, config))
    live = antt("run", "--cycle", "2026-H1", "--source", f"gform:{FORM_ID}", "--out", str(tmp_path / "live"),
                api_url=prefect_api_url, extra_env=_env())
    assert live.returncode == 0, live.stderr
    exported = antt("run", "--cycle", "2026-H1", "--source", str(sheet.write_csv(tmp_path / "export.csv")),
                    "--out", str(tmp_path / "file"), api_url=prefect_api_url)
    assert exported.returncode == 0, exported.stderr
    for name in ("ranking.csv", "issues.csv"):
        assert (tmp_path / "live" / "2026-H1" / name).read_bytes() == \
            (tmp_path / "file" / "2026-H1" / name).read_bytes()
    manifest = json.loads((tmp_path / "live" / "2026-H1" / "manifest.json").read_text())
    assert manifest["inputs"][0]["original"] == f"gform:{FORM_ID}"


@pytest.mark.flow
@pytest.mark.parametrize("status,fragment", [(403, CLIENT_EMAIL), (404, "404")])
def test_antt_run_fails_in_one_line_when_the_form_is_refused_or_unknown(prefect_api_url, fake, google_form,
                                                                      tmp_path, status, fragment):
    from test_cli import antt, assert_one_line_error

    fake.add_form(google_form, [])
    fake.fail(status, on="form")
    proc = antt("run", "--cycle", "2026-H1", "--source", f"gform:{FORM_ID}", "--out", str(tmp_path / "o"),
                api_url=prefect_api_url, extra_env=_env())
    assert_one_line_error(proc, f"gform:{FORM_ID}", fragment)
    assert not (tmp_path / "o" / "2026-H1").exists()


@pytest.mark.flow
def test_forms_requests_hold_a_slot_of_the_google_api_limit(prefect_api_url, fake, sheet, config, google_form,
                                                           tmp_path):
    from prefect.client.orchestration import get_client
    from test_gsheet import at_once

    from antt.sources.quota import GOOGLE_API_LIMIT, ensure_google_api_limit

    sheet.add("MN01")
    fake.add_form(google_form, as_responses(sheet, config))
    fake.slow(0.3)  # every request takes a while, so the four units' requests would overlap
    ensure_google_api_limit(2)
    try:  # no timeout: a request given up on would free its slot while the fake still counts it
        raised = at_once(lambda i: fetch(tmp_path / f"unit-{i}", timeout=60.0, max_delay=60.0), 4)
    finally:
        with get_client(sync_client=True) as client:
            client.delete_global_concurrency_limit_by_name(GOOGLE_API_LIMIT)
    assert raised == [None] * 4
    assert [len(fake.of_kind(k)) for k in ("form", "responses")] == [4, 4]  # none retried
    assert fake.most_at_once == 2  # the limit, reached and never passed
