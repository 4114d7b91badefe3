"""Schools' replies to their draft scorecards (issue 18): the review queue, what accepting a reply gives, and the
loop from a reply to the next run's verdict, with real files and the fake Sheets API."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from conftest import CORRECTION_FIELDS, REPO, config_with_corrections, evaluate, run_stages
from test_cli import antt, assert_one_line_error

from antt import pipeline
from antt.errors import InputError
from antt.intake.corrections import COLUMNS as CORRECTIONS
from antt.intake.registry import expected_in
from antt.intake.replies import COLUMNS, read_replies, reply_changes, review_queue
from antt.sources.raw import RawTable

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
KEY = "1REPLIESa0B1c2D3e4F5g6H7i8J9k0LmNoPq"
REGISTERED = "hieutruong.mn01@quangyen.example.org"  # MN01's first registered address (config/schools.csv)


def at(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=ZONE)


class Replies:
    """A reply form's response sheet as exported: "Dấu thời gian", "Địa chỉ email", then "R1. Trường" … "R6. …"."""

    def __init__(self, config):
        self.config = config
        self.headers = ["Dấu thời gian", "Địa chỉ email"] + [q.title for q in config.reply_form.questions]
        self.rows: list[list[str]] = []

    def add(self, code: str = "MN01", question: str = "D1", value: str = "0", when: str = "11/6/2026 9:00:00",
            email: str = REGISTERED, reason: str = "Vụ việc ghi nhầm, thuộc trường khác",
            evidence: str = "https://minhchung.example.org/mn01") -> int:
        form = self.config.form
        asked = form.by_id[question].title if question in form.by_id else f"{question}. (không có)"
        name = {"MN01": "Trường Mầm non Hoa Sen"}.get(code, "?")
        self.rows.append([when, email, f"{code} – {name}", asked, value, reason, evidence, "Trần Văn Bình"])
        return len(self.rows) + 1

    def table(self) -> list[list[str]]:
        return [list(self.headers)] + [list(r) for r in self.rows]

    def write_csv(self, path: Path) -> Path:
        with open(path, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(self.table())
        return path


@pytest.fixture
def replies(config) -> Replies:
    return Replies(config)


def queue_of(config, registry, sheet, replies_frame, drafts=None, corrections=None):
    """The review queue over a sheet's results (pure core, no files)."""
    _subs, _issues, res = evaluate(sheet.raw(), config, registry)
    cycle = res.cycle
    return review_queue(replies_frame, res.counted, expected_in(registry, cycle), config.form,
                        (cycle.deadline_at, cycle.reply_closes_at), drafts or {},
                        corrections if corrections is not None else pd.DataFrame(columns=CORRECTIONS)), res


def frame(*rows: dict) -> pd.DataFrame:
    base = {"email": REGISTERED, "school_code": "MN01", "by": "Trần Văn Bình", "question_id": "D1", "question": "",
            "value": "0", "reason": "ghi nhầm", "evidence": "", "at": at("2026-06-11 09:00")}
    return pd.DataFrame([base | r for r in rows], index=pd.Index(range(2, 2 + len(rows)), name="reply_row"))


def test_three_replies_registered_impostor_and_late(config, registry, sheet):
    row = sheet.add("MN01", D1="1")
    sheet.add("TH01")
    queue, proposed = queue_of(config, registry, sheet, frame(
        {}, {"email": "hieupho.mn01@gmail.com"}, {"at": at("2026-06-14 08:00")}))[0]
    assert queue["status"].tolist() == ["suggested", "unverified_sender", "outside_window"]
    suggested = queue.iloc[0]
    assert (suggested["action"], suggested["school_code"], suggested["sheet_row"], suggested["question_id"],
            suggested["value"]) == ("set", "MN01", row, "D1", "0")
    assert suggested["answer_now"] == "1"
    assert queue.iloc[1]["action"] == "" and queue.iloc[2]["action"] == ""  # never a correction to copy
    assert proposed.index.tolist() == [2] and proposed.loc[2, "D1"] == 0


def test_every_bad_reply_gets_its_status_and_none_stops_the_queue(config, registry, sheet):
    sheet.add("MN01", D1="1")
    sheet.add("TH01", D1="")  # a blocking error: TH01 has no counted submission
    queue = queue_of(config, registry, sheet, frame(
        {"school_code": "ZZ99"},                                   # no such school
        {"question_id": "Z9"},                                     # no such question
        {"question_id": "A1"},                                     # the school question is not corrected by reply
        {"question_id": "B6"},                                     # B6 does not apply to a kindergarten
        {"question_id": "D2", "value": "hai"},                     # not an integer
        {"question_id": "D3", "value": "-1"},                      # below the question's minimum
        {"question_id": "B1", "value": "41"},                      # more than A5 (40), which bounds it
        {"question_id": "D4", "value": ""},                        # blank
        {"school_code": "TH01", "email": "th.quangyen@quangyen.example.org"},  # nothing counted to correct
        {"at": at("2026-06-09 23:59")},                            # before the deadline
        {"at": at("2026-06-10 06:00")},                            # before MN01's draft was sent
        {"at": at("2026-06-11 10:00"), "value": "0"},              # MN01 D1 again, earlier than the next one
        {"at": at("2026-06-12 10:00"), "value": "0"},
    ), drafts={"MN01": datetime(2026, 6, 10, 7, 0, tzinfo=ZONE)})[0][0]
    assert queue["status"].tolist() == [
        "unknown_school", "unknown_question", "unknown_question", "unknown_question", "invalid_value",
        "invalid_value", "invalid_value", "invalid_value", "no_submission", "outside_window", "before_draft",
        "duplicate", "suggested"]


def test_what_accepting_a_reply_would_give_is_scored_for_that_school(config, registry, sheet):
    from antt.scoring.results import rescore

    sheet.add("MN01", D1="1")
    (queue, proposed), res = queue_of(config, registry, sheet, frame({}, {"question_id": "D2", "value": "3"}))
    assert res.ranked.set_index("school_code").loc["MN01", "verdict"] == "chua_dat"
    outcome = rescore(proposed, config)
    assert outcome.loc[2, "verdict"] == "dat"  # D1 = 0: K5 passes
    assert outcome.loc[3, "verdict"] == "chua_dat" and "K6" in outcome.loc[3, "failed"]


def test_a_correction_equal_to_a_reply_marks_it_accepted(config, registry, sheet):
    row = sheet.add("MN01", D1="0")  # as the corrected sheet reads once the analyst copied the reply
    accepted = pd.DataFrame([{"action": "set", "school_code": "MN01", "sheet_row": row, "question_id": "D1",
                              "value": "0", "reason": "", "by": "Lan", "at": ""}])
    queue = queue_of(config, registry, sheet, frame({}, {"at": at("2026-06-11 10:00")}),
                     corrections=accepted)[0][0]
    assert queue["status"].tolist() == ["duplicate", "accepted"]  # the same reply sent twice is accepted once


def test_reply_changes_lists_what_moved():
    now = pd.DataFrame({"school_code": ["A", "B", "C"], "school_name": ["a", "b", "c"],
                        "status": "submitted", "verdict": ["dat", "dat", "chua_dat"], "score": [90.0, 80.0, 70.0],
                        "rank_overall": [1, 2, 3]})
    before = now.assign(verdict=["dat", "chua_dat", "chua_dat"], rank_overall=[1, 3, 2])
    moved = reply_changes(now, before)
    assert moved["school_code"].tolist() == ["B", "C"]
    assert moved.iloc[0][["verdict_before", "verdict", "rank_overall_before", "rank_overall"]].tolist() == \
        ["chua_dat", "dat", 3, 2]


def test_reply_sheet_without_its_required_columns_is_an_input_error(config, replies):
    replies.add()
    table = replies.table()
    value = table[0].index(config.reply_form.by_id["R3"].title)
    broken = RawTable.from_rows([r[:value] + r[value + 1:] for r in table], source="replies.csv")
    with pytest.raises(InputError, match="R3"):
        read_replies(broken, config.reply_form, config.form, "Asia/Ho_Chi_Minh")
    no_email = RawTable.from_rows([r[:1] + r[2:] for r in table], source="replies.csv")
    with pytest.raises(InputError, match="Địa chỉ email"):
        read_replies(no_email, config.reply_form, config.form, "Asia/Ho_Chi_Minh")


def test_antt_run_with_a_reply_export_lacking_columns_is_one_line(tmp_path, sheet, replies):
    replies.add()
    path = tmp_path / "replies.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([r[:5] for r in replies.table()])
    proc = antt("run", "--cycle", "2026-H1", "--source", str(sheet.write_csv(tmp_path / "responses.csv")),
                "--replies", str(path), "--out", str(tmp_path / "out"))
    assert_one_line_error(proc, "replies.csv")


@pytest.fixture
def fake(fake_sheets):
    return fake_sheets


def reviewed(stages, source: str) -> pipeline.Replies:
    """The replies stage as the flow wires it: the replies source read (archived first), then the queue."""
    raw = pipeline.read_source(str(stages.received.archived.stored), stages.run)[0]
    replies_raw, received = pipeline.read_source(source, stages.run)
    return pipeline.replies_stage(replies_raw, received, raw, stages.prepared, stages.results, stages.run)


def test_replies_read_from_a_sheet_become_a_queue_and_an_impostor_is_never_suggested(fake, tmp_path, sheet,
                                                                                       replies):
    row = sheet.add("MN01", D1="1")
    genuine = replies.add()
    impostor = replies.add(email="mn01.truong@gmail.com", value="0", when="12/6/2026 9:00:00")
    fake.add_spreadsheet(KEY, {"Câu trả lời biểu mẫu 1": replies.table()})
    out = tmp_path / "out"
    stages = run_stages(sheet.write_csv(tmp_path / "responses.csv"), None, out)
    result = reviewed(stages, f"gsheet:{KEY}")
    folder = pipeline.write_stage(stages.results, stages.prepared, stages.validation, stages.received, stages.run,
                                  replies=result).folder
    with open(folder / "replies.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == COLUMNS
    by_row = {int(r["reply_row"]): r for r in rows}
    assert by_row[genuine]["status"] == "suggested"
    assert (by_row[genuine]["action"], by_row[genuine]["sheet_row"], by_row[genuine]["value"]) == ("set", str(row),
                                                                                                   "0")
    assert by_row[impostor]["status"] == "unverified_sender" and by_row[impostor]["action"] == ""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    archived = next(i for i in manifest["inputs"] if i["role"] == "replies")
    assert (out / archived["archived_as"]).is_file() and archived["original"].startswith("gsheet:")
    quality = (folder / "data_quality.html").read_text(encoding="utf-8")
    assert "Phản hồi của trường về dự thảo kết quả" in quality and "https://minhchung.example.org/mn01" in quality
    assert "Người gửi chưa được xác nhận" in quality and "Đạt" in quality


def test_an_accepted_reply_turns_chua_dat_into_dat_and_the_report_and_scorecard_say_why(tmp_path, sheet,
                                                                                      replies):
    row = sheet.add("MN01", D1="1")
    sheet.add("TH01")
    source = sheet.write_csv(tmp_path / "responses.csv")
    replies.add()
    replies_csv = replies.write_csv(tmp_path / "replies.csv")

    draft = run_stages(source, None, tmp_path / "draft")
    assert draft.results.ranked.set_index("school_code").loc["MN01", "verdict"] == "chua_dat"
    folder = pipeline.write_stage(draft.results, draft.prepared, draft.validation, draft.received, draft.run,
                                  replies=reviewed(draft, str(replies_csv))).folder
    with open(folder / "replies.csv", encoding="utf-8") as fh:
        suggestion = next(csv.DictReader(fh))
    assert suggestion["status"] == "suggested" and suggestion["sheet_row"] == str(row)

    # The analyst copies the row, without its last two columns, into the corrections file, and signs it.
    cfg = config_with_corrections(tmp_path, [{k: suggestion[k] for k in CORRECTION_FIELDS} | {"by": "Lan"}])
    final = run_stages(source, cfg, tmp_path / "final")
    result = reviewed(final, str(replies_csv))
    folder = pipeline.write_stage(final.results, final.prepared, final.validation, final.received, final.run,
                                  replies=result).folder
    doc = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    mn01 = next(s for s in doc["schools"] if s["school_code"] == "MN01")
    assert mn01["verdict"] == "dat"
    assert (mn01["accepted_replies"][0]["question_id"], mn01["accepted_replies"][0]["value"]) == ("D1", "0")
    assert (doc["replies"]["received"], doc["replies"]["accepted"], doc["replies"]["declined"]) == (1, 1, 0)
    change = next(c for c in doc["replies"]["changes"] if c["school_code"] == "MN01")
    assert (change["verdict_before"], change["verdict"]) == ("chua_dat", "dat")
    scorecard = (folder / "schools" / "MN01.html").read_text(encoding="utf-8")
    assert "Phòng đã chấp nhận phản hồi ngày 11/06/2026" in scorecard and "Trần Văn Bình" not in scorecard
    assert mn01["before_replies"]["verdict"] == "chua_dat" and "Trước khi điều chỉnh" in scorecard
    report = (folder / "report.html").read_text(encoding="utf-8")
    assert "Phản hồi của trường về dự thảo kết quả" in report and "Chưa đạt → Đạt" in report
    assert "Trần Văn Bình" not in report  # the replier's name stays with the analyst


def test_runs_without_replies_write_no_reply_file_and_no_reply_keys(tmp_path, sheet):
    sheet.add("MN01")
    folder = run_stages(sheet.write_csv(tmp_path / "responses.csv"), None, tmp_path / "out").write()
    doc = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    assert not (folder / "replies.csv").exists() and "replies" not in doc
    assert all("accepted_replies" not in s for s in doc["schools"])


def test_the_reply_form_names_every_field_the_queue_reads(config):
    from antt.intake.replies import FIELDS

    assert set(FIELDS.values()) <= set(config.reply_form.by_id)
    assert REPO.joinpath("config", "reply_form.yaml").is_file()


def test_the_flow_reads_and_reviews_the_replies_as_tasks_of_their_own(prefect_api_url, tmp_path, sheet, replies):
    """`run_cycle(replies=…)`: the replies are read (archived first) and reviewed in their own tasks, whose results
    reach write-outputs as arguments."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from antt.flows.cycle import run_cycle

    sheet.add("MN01", D1="1")
    replies.add()
    state = run_cycle(cycle="2026-H1", source=str(sheet.write_csv(tmp_path / "responses.csv")),
                      replies=str(replies.write_csv(tmp_path / "replies.csv")), out=str(tmp_path / "out"),
                      return_state=True)
    assert state.is_completed()
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(
            id=FlowRunFilterId(any_=[state.state_details.flow_run_id])))
    task = {r.id: r.name.rsplit("-", 1)[0] for r in runs}
    inputs = {task[r.id]: {arg: {task[i.id] for i in made if getattr(i, "id", None) in task}
                           for arg, made in r.task_inputs.items()} for r in runs}
    assert inputs["review-replies"]["replies_raw"] == {"read-replies"} and inputs["review-replies"]["raw"] == {"read"}
    assert "review-replies" in inputs["write-outputs"]["replies"]
    with open(tmp_path / "out" / "2026-H1" / "replies.csv", encoding="utf-8") as fh:
        assert [r["status"] for r in csv.DictReader(fh)] == ["suggested"]


def test_replies_read_from_the_forms_api_and_from_an_xlsx_export_give_the_same_queue(tmp_path, fake_forms, config,
                                                                                   registry, sheet, replies):
    """Any source kind: the reply form read through the Forms API (its questions titled "R1. …" as the export
    makes them) and the same sheet downloaded as .xlsx."""
    from fake_forms import form_resource
    from openpyxl import Workbook
    from test_gform import rows_as_responses

    from antt.forms.apps_script import form_data

    sheet.add("MN01", D1="1")
    replies.add()
    replies.add(email="mn01.truong@gmail.com", when="12/6/2026 9:00:00")
    as_reply = config.model_copy(update={"form": config.reply_form})
    book = Workbook()
    for row in replies.table():
        book.active.append(row)
    book.save(tmp_path / "replies.xlsx")
    stages = run_stages(sheet.write_csv(tmp_path / "responses.csv"), None, tmp_path / "out")
    fake_forms.add_form(form_resource("1FAIpQLreplyForm0123456789abcdef", form_data(as_reply, registry)),
                        responses=rows_as_responses(replies.rows, as_reply))
    from_form = reviewed(stages, "gform:1FAIpQLreplyForm0123456789abcdef").queue
    from_xlsx = reviewed(stages, str(tmp_path / "replies.xlsx")).queue
    for queue in (from_form, from_xlsx):
        assert queue["status"].tolist() == ["suggested", "unverified_sender"]
        assert queue[COLUMNS].iloc[0].drop(["reply_row"]).tolist() == from_xlsx[COLUMNS].iloc[0].drop(
            ["reply_row"]).tolist()
