"""Deployments: the schedule plan from config, and the real pieces end to end: `prefect server start` on the
session's PostgreSQL, process workers, `antt deploy`, `prefect deployment run`, a Completed run, its report and its
artifacts; and the province fanned out over two workers, one of them killed mid-unit."""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml
from conftest import REPO, Sheet

from antt.config import MonthDay
from antt.cycles import cycle_on, resolve_cycle, run_days
from antt.errors import ConfigError
from antt.flows.deployments import schedule_plan

BIN = Path(sys.executable).parent
STARTUP_TIMEOUT_S = 180  # a limit, not a measure: a passing start waits only as long as it must
RUN_TIMEOUT_S = 90


def test_schedules_follow_the_configured_deadlines(config):
    plan = {(r.kind, r.slug): r for r in schedule_plan(config.cycles)}
    assert {k: r.cron for k, r in plan.items()} == {
        ("H1", "remind-7d"): "0 7 3 6 *", ("H1", "remind-2d"): "0 7 8 6 *",
        ("H1", "deadline"): "0 7 10 6 *", ("H1", "final"): "0 7 14 6 *",
        ("Y", "remind-7d"): "0 7 3 11 *", ("Y", "remind-2d"): "0 7 8 11 *",
        ("Y", "deadline"): "0 7 10 11 *", ("Y", "final"): "0 7 14 11 *",
    }
    assert {r.timezone for r in plan.values()} == {"Asia/Ho_Chi_Minh"}
    assert {r.deployment for k, r in plan.items() if k[1].startswith("remind")} == {"scheduled-remind"}


def test_only_the_final_run_before_the_office_deadline_e_mails_the_report(config):
    """Issue 7: the run on 14/6 and 14/11 (the day before the report is due) delivers it to leadership."""
    plan = {(r.kind, r.slug): r.parameters for r in schedule_plan(config.cycles)}
    assert {k for k, params in plan.items() if params.get("send_report")} == {("H1", "final"), ("Y", "final")}
    assert plan[("H1", "final")] == {"send_report": True}
    assert all(params == {} for k, params in plan.items() if k[1] not in ("final", "deadline"))


def test_the_deadline_day_run_mails_the_drafts_and_the_final_run_comes_after_the_reply_window(config):
    """Issue 18: drafts on 10/6 and 10/11; replies until the end of 13/6 and 13/11; the final run on 14/6, 14/11."""
    plan = {(r.kind, r.slug): r.parameters for r in schedule_plan(config.cycles)}
    assert {k for k, params in plan.items() if params.get("send_drafts")} == {("H1", "deadline"), ("Y", "deadline")}
    assert plan[("Y", "deadline")] == {"send_drafts": True}
    for year in range(2026, 2031):
        for kind in config.cycles.kinds:
            cycle = resolve_cycle(f"{year}-{kind}", config.cycles)
            days = run_days(cycle, config.cycles)
            assert days["deadline"] == cycle.school_deadline < cycle.reply_last_day < days["final"] < cycle.report_due
            final_run = datetime.combine(days["final"], datetime.min.time(), cycle.reply_closes_at.tzinfo)
            assert cycle.reply_closes_at <= final_run


def _march(config, deadline: MonthDay, report_due: MonthDay, **schedule):
    """The configured cycles with H1's school deadline and report date moved, and the schedule changed."""
    h1 = config.cycles.kinds["H1"].model_copy(update={"deadline": deadline, "closes": deadline,
                                                       "report_due": report_due})
    return config.cycles.model_copy(update={"kinds": {"H1": h1},
                                            "schedule": config.cycles.schedule.model_copy(update=schedule)})


def _occurrences(run, years: range) -> list[date]:
    """The days a cron (minute hour day month *) or an RRULE schedule fires in `years`."""
    from dateutil.rrule import rrulestr

    if run.cron:
        day, month = (int(f) for f in run.cron.split()[2:4])
        return [date(y, month, day) for y in years]
    rule = rrulestr(run.rrule, dtstart=datetime(years.start, 1, 1))
    return [d.date() for d in rule.between(datetime(years.start, 1, 1), datetime(years.stop, 1, 1))]


def test_a_run_day_that_moves_in_leap_years_still_falls_on_its_actual_day(config):
    """7 days before 5/3 is 26/2, or 27/2 in a leap year; the day before 1/3 is 28/2 or 29/2. Cron's month and
    day cannot say that: those runs get an RRULE by day of the year, and every run lands on its actual day."""
    cycles = _march(config, MonthDay(month=3, day=5), MonthDay(month=3, day=1))
    plan = {r.slug: r for r in schedule_plan(cycles)}
    assert (plan["remind-2d"].cron, plan["deadline"].cron) == ("0 7 3 3 *", "0 7 5 3 *")
    assert plan["remind-7d"].rrule and plan["final"].rrule and plan["final"].parameters == {"send_report": True}
    years = range(2026, 2034)
    for slug, run in plan.items():
        actual = [run_days(resolve_cycle(f"{y}-H1", cycles), cycles)[slug] for y in years]
        assert _occurrences(run, years) == actual, slug
    assert _occurrences(plan["remind-7d"], range(2027, 2029)) == [date(2027, 2, 26), date(2028, 2, 27)]
    assert _occurrences(plan["final"], range(2027, 2029)) == [date(2027, 2, 28), date(2028, 2, 29)]


def test_a_run_day_no_yearly_schedule_can_follow_names_the_key(config):
    """70 days before 5/3 is 25/12 or 26/12 of the year before, depending on the next year: refused."""
    cycles = _march(config, MonthDay(month=3, day=5), MonthDay(month=3, day=10), remind_days_before_deadline=[70])
    with pytest.raises(ConfigError, match=r"cycles\.yaml: schedule\.remind_days_before_deadline: lần chạy remind-70d "
                                          r"của kỳ H1 rơi vào 25/12/2024, 25/12/2025, 25/12/2026, 26/12/2027"):
        schedule_plan(cycles)


def test_a_run_day_no_yearly_schedule_can_follow_in_english(config, english):
    cycles = _march(config, MonthDay(month=3, day=5), MonthDay(month=3, day=10), remind_days_before_deadline=[70])
    with pytest.raises(ConfigError, match=r"schedule\.remind_days_before_deadline: the remind-70d run of H1 falls on "
                                          r"25/12/2024, 25/12/2025, 25/12/2026, 26/12/2027 in successive years"):
        schedule_plan(cycles)


@pytest.mark.parametrize("kind, day, expected", [
    ("H1", date(2026, 6, 3), "2026-H1"), ("H1", date(2026, 6, 14), "2026-H1"),
    ("Y", date(2026, 11, 3), "2026-Y"), ("Y", date(2027, 1, 2), "2026-Y"), ("H1", date(2025, 12, 30), "2026-H1"),
])
def test_a_scheduled_run_works_out_its_cycle_from_the_date(config, kind, day, expected):
    assert cycle_on(kind, day, config.cycles) == expected


def _unit_file(path: Path) -> dict[str, list[tuple[str, str]]]:
    """A systemd unit as {section: [(key, value), …]} (keys repeat: Environment=)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
        else:
            key, _, value = line.partition("=")
            current.append((key.strip(), value.strip()))
    return sections


def _env_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.startswith("#"))


@pytest.mark.parametrize("unit", ["prefect-server.service", "antt-worker.service"])
def test_the_systemd_units_start_commands_that_exist_with_options_they_take(unit):
    service = dict(_unit_file(REPO / "deploy" / unit)["Service"])
    argv = shlex.split(service["ExecStart"])
    program = Path(argv[0])
    assert program.parent == Path("/srv/antt/.venv/bin") and (BIN / program.name).is_file()  # the install layout
    words = [a for a in argv[1:] if not a.startswith("-")][:2]  # `server start`, `worker start`
    shown = subprocess.run([str(BIN / program.name), *words, "--help"], capture_output=True, text=True,
                           env={**os.environ, "COLUMNS": "200"}, timeout=60)
    assert shown.returncode == 0, shown.stderr
    for option in (a.split("=")[0] for a in argv if a.startswith("--")):
        assert option in shown.stdout, f"{unit}: {program.name} {' '.join(words)} has no {option}"
    template = REPO / "deploy" / (Path(service["EnvironmentFile"].lstrip("-")).stem + ".env.example")
    assert template.is_file(), f"{unit} reads {service['EnvironmentFile']}: no template {template.name}"


def test_the_environment_templates_name_only_settings_that_exist():
    import prefect.settings

    code = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "antt").rglob("*.py"))
    units = [_unit_file(REPO / "deploy" / u)["Service"] for u in ("prefect-server.service", "antt-worker.service")]
    inline = [v.split("=", 1)[0] for service in units for k, v in service if k == "Environment"]
    for name in [*inline, *(n for f in (REPO / "deploy").glob("*.env.example") for n in _env_file(f))]:
        if name.startswith("PREFECT_"):
            assert getattr(prefect.settings, name, None) is not None, f"{name} is not a Prefect setting"
        else:
            assert name.startswith("ANTT_") and f'"{name}"' in code, f"{name} is read nowhere in antt"
    worker = _env_file(REPO / "deploy" / "worker.env.example")
    assert worker["ANTT_HISTORY_URL"].startswith("postgresql+psycopg://")
    assert _env_file(REPO / "deploy" / "server.env.example")["PREFECT_SERVER_DATABASE_CONNECTION_URL"].startswith(
        "postgresql+asyncpg://")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for f in sorted((REPO / "deploy").iterdir()):
        assert f"deploy/{f.name}" in readme, f"README does not point to deploy/{f.name}"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    """A child in its own process group (the server and the worker start children of their own)."""
    return subprocess.Popen(args, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@pytest.fixture(scope="module")
def prefect_server(postgres, tmp_path_factory):
    """`prefect server start` on a free loopback port, its state in a database of the session's PostgreSQL (as the
    operations guide sets it up), with a throwaway PREFECT_HOME; yields the environment every client subprocess
    needs, and stops the server whatever happens."""
    home = tmp_path_factory.mktemp("prefect-home")
    url = f"http://127.0.0.1:{_free_port()}/api"
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_API_URL": url,
           "PREFECT_SERVER_DATABASE_CONNECTION_URL": postgres.create_database("prefect", driver="asyncpg"),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
           "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "5"}
    env.pop("PREFECT_PROFILES_PATH", None)
    port = url.rsplit(":", 1)[1].split("/")[0]
    log = home / "server.log"
    server = _start([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", port,
                     "--log-level", "WARNING"], env, log)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"prefect server did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.3)
        yield env
    finally:
        _stop(server)


def _cli(args: list[str], env: dict, cwd: Path) -> str:
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(args)}\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def _wait(url: str, run_ids: list[str], timeout_s: float) -> dict[str, dict]:
    deadline, states = time.monotonic() + timeout_s, {}
    while time.monotonic() < deadline:
        states = {i: httpx.get(f"{url}/flow_runs/{i}", timeout=5).json()["state"] for i in run_ids}
        if all(s["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") for s in states.values()):
            break
        time.sleep(0.5)
    return states


@pytest.mark.deploy
def test_a_worker_runs_triggered_deployments_on_a_real_server(prefect_server, sheet, config, tmp_path):
    env, started = prefect_server, time.monotonic()
    url = env["PREFECT_API_URL"]
    for code in ("THCS01", "TH01", "MN01"):
        sheet.add(code)
    source = sheet.write_csv(tmp_path / "responses.csv")
    with open(tmp_path / "replies.csv", "w", newline="", encoding="utf-8") as fh:  # the reply sheet, no reply yet
        csv.writer(fh).writerow(["Dấu thời gian", "Địa chỉ email"] + [q.title for q in config.reply_form.questions])
    (tmp_path / "units.yaml").write_text(
        "units:\n  - {name: Quảng Yên, source: responses.csv, out: out/quang-yen}\n", encoding="utf-8")
    out = tmp_path / "out"

    _cli([str(BIN / "prefect"), "work-pool", "create", "antt", "--type", "process"], env, tmp_path)
    # Relative paths on purpose: the worker runs flows in a temporary folder, so deploy must make them absolute.
    _cli([str(BIN / "antt"), "deploy", "--source", source.name, "--out", "out", "--units", "units.yaml",
          "--replies", "replies.csv"], env, tmp_path)
    worker = _start([str(BIN / "prefect"), "worker", "start", "--pool", "antt", "--type", "process"], env,
                    tmp_path / "worker.log")
    try:
        runs = {}
        # The scheduled run writes elsewhere: two runs of one cycle in one output folder at once are refused (Busy).
        for name, params in [("run-cycle/manual", ["cycle=2026-H1"]),
                             ("scheduled-cycle/H1", [f"out={tmp_path / 'out-scheduled'}"]),
                             ("province/manual", ["cycle=2026-H1"])]:
            said = _cli([str(BIN / "prefect"), "deployment", "run", name]
                        + [a for p in params for a in ("--param", p)], env, tmp_path)
            runs[name] = re.search(r"UUID:\s*([0-9a-f-]{36})", said)[1]
        states = _wait(url, list(runs.values()), RUN_TIMEOUT_S)
        assert {n: states[i]["name"] for n, i in runs.items()} == dict.fromkeys(runs, "Completed"), \
            f"{states}\n{(tmp_path / 'worker.log').read_text(errors='replace')[-4000:]}"
    finally:
        _stop(worker)

    report = out / "2026-H1" / "report.html"
    assert report.is_file() and "PHÒNG GIÁO DỤC VÀ ĐÀO TẠO" in report.read_text(encoding="utf-8")
    artifacts = httpx.post(f"{url}/artifacts/filter",
                           json={"artifacts": {"flow_run_id": {"any_": [runs["run-cycle/manual"]]}}}, timeout=5).json()
    assert {a["key"] for a in artifacts} >= {"antt-2026-h1-summary", "antt-2026-h1-issues"}
    today = datetime.now(ZoneInfo(config.cycles.timezone)).date()
    assert (tmp_path / "out-scheduled" / cycle_on("H1", today, config.cycles) / "results.json").is_file()
    province = json.loads((out / "province" / "2026-H1" / "province.json").read_text(encoding="utf-8"))
    assert [(u["name"], u["ok"]) for u in province["units"]] == [("Quảng Yên", True)]
    assert (out / "quang-yen" / "2026-H1" / "report.html").is_file()
    assert (out / "2026-H1" / "replies.csv").is_file()  # the cycle runs review the replies deploy named

    deployments = httpx.post(f"{url}/deployments/filter", json={}, timeout=5).json()
    flows = {f["id"]: f["name"] for f in httpx.post(f"{url}/flows/filter", json={}, timeout=5).json()}
    by_name = {f"{flows[d['flow_id']]}/{d['name']}": d for d in deployments}
    assert set(by_name) >= {"run-cycle/manual", "remind/manual", "province/manual", "scheduled-cycle/H1",
                            "scheduled-cycle/Y", "scheduled-remind/H1", "scheduled-remind/Y"}
    h1 = {s["schedule"]["cron"]: (s["schedule"]["timezone"], s["parameters"])
          for s in by_name["scheduled-cycle/H1"]["schedules"]}
    assert h1 == {"0 7 10 6 *": ("Asia/Ho_Chi_Minh", {"send_drafts": True}),
                  "0 7 14 6 *": ("Asia/Ho_Chi_Minh", {"send_report": True})}
    assert by_name["run-cycle/manual"]["parameters"]["source"] == str(source.resolve())
    assert by_name["scheduled-cycle/H1"]["parameters"]["replies"] == str((tmp_path / "replies.csv").resolve())
    assert "replies" not in by_name["remind/manual"]["parameters"]
    limit = httpx.get(f"{url}/v2/concurrency_limits/google-api", timeout=5).json()
    assert (limit["limit"], limit["active"]) == (2, True)  # `antt deploy`'s default
    [lost] = httpx.post(f"{url}/automations/filter", json={}, timeout=5).json()
    assert lost["name"] == "antt: crash runs whose worker was lost" and lost["trigger"]["within"] == 300
    print(f"server+worker end to end: {time.monotonic() - started:.1f}s after the server was up")


UNITS = {"Phòng GD&ĐT A": ["MN01", "TH01"], "Phòng GD&ĐT B": ["THCS01"], "Phòng GD&ĐT C": ["MN02", "TH02"],
         "Phòng GD&ĐT D": ["THCS02", "TH03"]}
DOOMED = "Phòng GD&ĐT D"  # its worker is killed while it runs
LOST_AFTER_S = 60  # `antt deploy --lost-after` (its minimum); the workers beat every 30 s (Prefect's minimum)
FANOUT_TIMEOUT_S = 300  # generous: four units on two busy cores; a passing run waits only as long as it must


def _units_file(root: Path, config, registry) -> Path:
    """Four small units, each with its own export, registry and output folder."""
    lines = (REPO / "config" / "schools.csv").read_text(encoding="utf-8").splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("school_code,"))
    entries = []
    for i, (name, codes) in enumerate(UNITS.items()):
        folder = root / f"unit-{i}"
        folder.mkdir()
        sheet = Sheet(config, registry)
        for code in codes:
            sheet.add(code)
        sheet.write_csv(folder / "responses.csv")
        (folder / "schools.csv").write_text("\n".join([lines[header]] + [
            line for line in lines[header + 1:] if line.split(",", 1)[0] in codes]) + "\n", encoding="utf-8")
        entries.append({"name": name, "source": f"unit-{i}/responses.csv", "registry": f"unit-{i}/schools.csv",
                        "out": f"out/unit-{i}"})
    (root / "units.yaml").write_text(yaml.safe_dump({"units": entries}, allow_unicode=True), encoding="utf-8")
    return root / "units.yaml"


def _unit_runs(url: str) -> dict[str, dict]:
    """The latest `run-cycle` flow run of each unit, by unit name (its `office` parameter)."""
    runs = httpx.post(f"{url}/flow_runs/filter", json={"sort": "EXPECTED_START_TIME_ASC"}, timeout=5).json()
    return {r["parameters"]["office"]: r for r in runs if r["parameters"].get("office")}


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _in_thread(call) -> tuple[threading.Thread, dict]:
    """Run `call` in a thread with this thread's Prefect settings; its result or exception lands in the dict."""
    import contextvars

    done: dict = {}

    def run() -> None:
        try:
            done["result"] = call()
        except BaseException as exc:  # noqa: B036 (handed to the test)
            done["error"] = exc

    thread = threading.Thread(target=contextvars.copy_context().run, args=(run,))
    thread.start()
    return thread, done


@pytest.mark.deploy
def test_the_province_fans_out_over_two_workers_and_redoes_the_unit_of_a_lost_one(
        prefect_server, postgres, config, registry, tmp_path, monkeypatch):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from antt.flows.province import province
    from antt.store import history

    started = time.monotonic()
    history_url = postgres.create_database("history")
    env = prefect_server | {history.URL_ENV: history_url, "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30"}
    url = env["PREFECT_API_URL"]
    units_file = _units_file(tmp_path, config, registry)
    _cli([str(BIN / "antt"), "deploy", "--source", "unit-0/responses.csv", "--out", "out", "--units", "units.yaml",
          "--lost-after", str(LOST_AFTER_S)], env, tmp_path)
    workers = {name: _start([str(BIN / "prefect"), "worker", "start", "--pool", "antt", "--type", "process",
                             "--name", name, "--limit", "1"], env, tmp_path / f"{name}.log") for name in ("w1", "w2")}
    monkeypatch.setenv(history.URL_ENV, history_url)  # the province reads the units' results from there

    def run_province() -> dict:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            return province(units_file=str(units_file), cycle="2026-H1", out=str(tmp_path / "out"),
                            deployment="run-cycle/manual", wait_minutes=5)

    try:
        thread, first = _in_thread(run_province)
        deadline = time.monotonic() + FANOUT_TIMEOUT_S
        while (run := _unit_runs(url).get(DOOMED)) is None or run["state"]["type"] != "RUNNING" \
                or not run["infrastructure_pid"]:
            assert time.monotonic() < deadline and thread.is_alive(), f"{DOOMED} never ran: {first}"
            time.sleep(0.2)
        unit_pid = int(run["infrastructure_pid"])
        killed = next(name for name, w in workers.items() if w.pid == _parent(unit_pid))
        os.killpg(workers[killed].pid, signal.SIGKILL)  # the worker and its machine are gone, as in a power cut
        os.kill(unit_pid, signal.SIGKILL)
        workers[killed].wait(timeout=10)
        thread.join(timeout=FANOUT_TIMEOUT_S + 2 * LOST_AFTER_S)
        assert "result" in first, first

        doc = json.loads((tmp_path / "out" / "province" / "2026-H1" / "province.json").read_text(encoding="utf-8"))
        assert [(u["name"], u["ok"]) for u in doc["units"]] == [(n, n != DOOMED) for n in UNITS]
        [lost] = doc["failed"]
        assert lost["name"] == DOOMED and lost["reason"].startswith("Crashed:") and str(LOST_AFTER_S) in lost["reason"]
        runs = _unit_runs(url)
        ran_on = {name: [r for r in runs.values() if f"flow run '{r['id']}'" in (tmp_path / f"{name}.log").read_text()]
                  for name in workers}
        assert all(ran_on.values()), f"a worker ran no unit: {ran_on}"  # both workers took a share

        thread, again = _in_thread(run_province)  # the same province, once more: only the lost unit runs
        thread.join(timeout=FANOUT_TIMEOUT_S)
        assert again.get("result", {}).get("ran") == [DOOMED], again
    finally:
        for worker in workers.values():
            _stop(worker)

    doc = json.loads((tmp_path / "out" / "province" / "2026-H1" / "province.json").read_text(encoding="utf-8"))
    assert [(u["name"], u["ok"], u["kept"]) for u in doc["units"]] == [(n, True, n != DOOMED) for n in UNITS]
    assert {s["reporting_unit"] for s in doc["ranking"]} == set(UNITS)
    redo = _unit_runs(url)[DOOMED]
    assert redo["state"]["type"] == "COMPLETED" and redo["id"] != run["id"]

    # The history lives in PostgreSQL: the lost unit's report renders from it alone, into an empty folder.
    empty = tmp_path / "elsewhere"
    _cli([str(BIN / "antt"), "report", "--cycle", "2026-H1", "--office", DOOMED, "--out", str(empty)], env, tmp_path)
    assert "PHÒNG GIÁO DỤC VÀ ĐÀO TẠO" in (empty / "2026-H1" / "report.html").read_text(encoding="utf-8")
    assert {c["id"] for c in history.recorded_cycles(history_url, office=DOOMED)} == {"2026-H1"}
    # and so does the Prefect server's state: five unit runs, the lost one among them
    assert postgres.query("SELECT count(*) FROM flow_run WHERE name LIKE '2026-H1 Phòng%'", "prefect") == [(5,)]
    print(f"province over two workers, one lost: {time.monotonic() - started:.1f}s")


@pytest.mark.flow
def test_a_failed_run_e_mails_the_analyst_its_link_and_reason(prefect_api_url, monkeypatch, tmp_path):
    from prefect import flow
    from smtp_server import Mailbox, smtp_server

    from antt.mail.failure import notify_analyst

    @flow(name="run-cycle", flow_run_name="{cycle}", on_failure=[notify_analyst], on_crashed=[notify_analyst])
    def failing(cycle: str, source: str) -> None:
        raise FileNotFoundError(f"{source}: no such file\nsecond line")

    box = Mailbox()
    with smtp_server(box) as server:
        monkeypatch.setenv("ANTT_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("ANTT_SMTP_PORT", str(server.port))
        monkeypatch.setenv("ANTT_SMTP_STARTTLS", "false")
        monkeypatch.setenv("ANTT_MAIL_FROM", "antt@pgd.example.org")
        monkeypatch.setenv("ANTT_ANALYST_EMAIL", "analyst@pgd.example.org")
        state = failing(cycle="2026-H1", source="missing.csv", return_state=True)

    assert state.is_failed()
    [mail] = box.received
    assert mail.rcpt_tos == ["analyst@pgd.example.org"]
    msg = mail.message
    assert "run-cycle 2026-H1" in msg["Subject"] and "Failed" in msg["Subject"]
    body = msg.get_content()
    assert "missing.csv: no such file second line" in body
    assert f"{prefect_api_url.removesuffix('/api')}/runs/flow-run/" in body
    assert "- source: missing.csv" in body


@pytest.mark.flow
def test_without_smtp_settings_a_failure_is_logged_not_raised(prefect_api_url, monkeypatch, caplog):
    from prefect import flow

    from antt.mail.failure import notify_analyst

    @flow(name="run-cycle", on_failure=[notify_analyst])
    def failing() -> None:
        raise ValueError("boom")

    monkeypatch.delenv("ANTT_SMTP_HOST", raising=False)
    monkeypatch.setenv("ANTT_ANALYST_EMAIL", "analyst@pgd.example.org")
    assert failing(return_state=True).is_failed()
    assert any("could not e-mail the analyst" in r.getMessage() and "ANTT_SMTP_HOST" in r.getMessage()
               for r in caplog.records)
