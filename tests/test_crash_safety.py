"""Issue 8 item 5: a run killed anywhere (SIGKILL, no cleanup) leaves the previous outputs, the raw archive and the
history database sound, and the next run succeeds; two runs of one cycle never interleave.

`antt run` is the real CLI (`antt.cli.main`), but started as a fork of one helper process that has imported antt,
Prefect and Great Expectations once: a fresh interpreter per run would spend most of this file's time importing.
The runs use the session's Prefect server. Kills come at the named points of `antt.store.faults` and at seeded times.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO

from antt.demo.build import write_demo_sheet
from antt.outputs import publish
from antt.store import history
from antt.store.locks import Busy, cycle_lock, ensure_free

pytestmark = pytest.mark.flow

CYCLE = "2026-H1"
KILL_POINTS = ["archived", "after:read", "after:normalize", "after:validate", "after:score", "after:rank",
               "staged:results.json", "after:write_files", "after:render_report", "after:render_scorecards",
               "after:render_data_quality", "after:finish_workbook", "publish:before_swap", "publish:after_swap",
               "history:before_commit", "after:record_history"]
TIMED_KILLS = 6  # at seeded random fractions of a normal run's duration
KEPT = {CYCLE, "raw", ".locks", "history.sqlite", "history.sqlite-wal", "history.sqlite-shm"}
HUNG_S = 300  # a run still going after this long is killed, so a hang fails the test instead of stopping it

# Reads one job a line from stdin, forks, runs `antt <argv>` in the child (output to a log file), SIGKILLs it after
# `kill_after` seconds, and answers with the child's exit code (-9: killed) and how long it ran.
FORK_SERVER = r"""
import json, os, signal, sys, time
import antt.cli, antt.flows.cycle

print("ready", flush=True)
for line in sys.stdin:
    job = json.loads(line)
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.environ.update(job["env"])
        log = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        sys.argv = ["antt", *job["argv"]]
        code = 0
        try:
            antt.cli.main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    deadline = started + job["kill_after"]
    while not (status := os.waitpid(pid, os.WNOHANG))[0]:
        if deadline is not None and time.monotonic() >= deadline:
            os.kill(pid, signal.SIGKILL)
            deadline = None
        time.sleep(0.005)
    print(json.dumps({"code": os.waitstatus_to_exitcode(status[1]), "elapsed": time.monotonic() - started}),
          flush=True)
"""


@dataclass
class Ran:
    code: int
    elapsed: float
    log: str

    @property
    def killed(self) -> bool:
        return self.code == -signal.SIGKILL


class Runner:
    """The fork server, on the session's Prefect server: `antt(*argv)` runs one command and returns how it ended."""

    def __init__(self, api_url: str, folder: Path):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ANTT_"))}
        env |= {"PREFECT_API_URL": api_url, "PREFECT_HOME": os.environ["PREFECT_HOME"],
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "CRITICAL",
                "NO_COLOR": "1", "COLUMNS": "200"}
        self.folder, self.jobs = folder, 0
        self.proc = subprocess.Popen([sys.executable, "-c", FORK_SERVER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
        assert self.proc.stdout.readline().strip() == "ready"

    def antt(self, *argv: str, kill_at: str | None = None, kill_after: float | None = None) -> Ran:
        self.jobs += 1
        log = self.folder / f"run-{self.jobs}.log"
        job = {"argv": list(argv), "env": {"ANTT_KILL_AT": kill_at} if kill_at else {}, "log": str(log),
               "kill_after": kill_after or HUNG_S}
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        return Ran(answer["code"], answer["elapsed"], log.read_text(encoding="utf-8", errors="replace"))

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def runner(prefect_api_url, tmp_path_factory):
    runner = Runner(prefect_api_url, tmp_path_factory.mktemp("logs"))
    yield runner
    runner.close()


@pytest.fixture(scope="module")
def sheets(config, registry, tmp_path_factory):
    """sheets(i): the i-th demo response sheet, each seeded differently (so each has its own sha256)."""
    folder = tmp_path_factory.mktemp("sheets")

    def sheet(i: int) -> Path:
        path = folder / f"responses-{i}.csv"
        return path if path.exists() else write_demo_sheet(path, config, registry, [CYCLE], seed=2026 + i)
    return sheet


@pytest.fixture(scope="module")
def published(runner, sheets, tmp_path_factory) -> tuple[Path, float]:
    """An output folder where the cycle ran once, cleanly, and how long that run took."""
    out = tmp_path_factory.mktemp("published") / "out"
    ran = runner.antt("run", "--cycle", CYCLE, "--source", str(sheets(0)), "--out", str(out))
    assert ran.code == 0, ran.log
    return out, ran.elapsed


def _copy(out: Path, to: Path) -> Path:
    shutil.copytree(out, to)
    return to


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): _sha(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def _recorded(out: Path) -> tuple[str | None, list[tuple]]:
    """The history database's input sha256 and school rows for the cycle, after an integrity check."""
    import sqlite3

    with closing(sqlite3.connect(out / history.HISTORY_FILE)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        sha = conn.execute("SELECT input_sha256 FROM cycles WHERE id = ?", (CYCLE,)).fetchone()
        rows = conn.execute("SELECT school_code, status, verdict, score, rank_overall FROM school_results "
                            "WHERE cycle_id = ? ORDER BY position", (CYCLE,)).fetchall()
    return (sha[0] if sha else None), rows


def _rows(document: dict) -> list[tuple]:
    return [(s["school_code"], s["status"], s["verdict"], s["score"], s["rank_overall"]) for s in document["schools"]]


@dataclass
class Snapshot:
    folder: dict[str, str]  # path in <out>/<cycle>/ → sha256
    raw: dict[str, str]  # archived input → sha256
    receipts: bytes  # raw/index.jsonl
    recorded: tuple[str | None, list[tuple]]


def _snapshot(out: Path) -> Snapshot:
    raw = {p.name: _sha(p) for p in (out / "raw").iterdir() if p.name != "index.jsonl"}
    return Snapshot(_tree(out / CYCLE), raw, (out / "raw" / "index.jsonl").read_bytes(), _recorded(out))


def _assert_complete(folder: Path, input_sha: str) -> None:
    """A whole published folder of the run of `input_sha`: every file its manifest lists, with that content."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["inputs"][0]["sha256"] == input_sha
    assert {p.name for p in folder.iterdir()} == set(manifest["files"]) | set(manifest["pages"]) | {"manifest.json"}
    assert {name: _sha(folder / name) for name in manifest["files"]} == manifest["files"]
    assert {name: len(list((folder / name).iterdir())) for name in manifest["pages"]} == manifest["pages"]


def _assert_sound(out: Path, before: Snapshot, input_sha: str) -> None:
    """After a killed run of `input_sha`: the published folder is exactly the one before or a complete new one, the
    raw archive only grew, the history database is intact and holds the cycle's old rows or the new ones (never
    newer than the folder), and anything else left behind is a hidden staging folder."""
    folder = out / CYCLE
    assert folder.is_dir()
    document = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    if _tree(folder) != before.folder:
        _assert_complete(folder, input_sha)
    raw = out / "raw"
    for name, digest in before.raw.items():
        assert _sha(raw / name) == digest, name
    for path in raw.iterdir():
        # a new input is whole or not there (a kill between writing and renaming it leaves a hidden temporary file)
        if path.name not in before.raw and path.name != "index.jsonl" and not path.name.startswith("."):
            assert path.name == f"{_sha(path)}.csv", path.name
    receipts = (raw / "index.jsonl").read_bytes()
    assert receipts.startswith(before.receipts)
    assert all(json.loads(line)["sha256"] for line in receipts.splitlines())
    left = {p.name for p in out.iterdir()} - KEPT
    assert all(re.fullmatch(rf"\.{CYCLE}\.staging-\w+", name) for name in left), left
    recorded = _recorded(out)
    if recorded != before.recorded:
        assert recorded == (input_sha, _rows(document)) and document["input"]["sha256"] == input_sha


def test_a_run_killed_anywhere_leaves_old_or_new_outputs_and_the_next_run_succeeds(runner, sheets, published,
                                                                                    tmp_path):
    base, normal_run = published
    out = _copy(base, tmp_path / "out")
    rng = random.Random(85)
    kills = [("point", name) for name in KILL_POINTS] + \
        [("time", round(rng.uniform(0.05, 0.98) * normal_run, 2)) for _ in range(TIMED_KILLS)]
    outcomes = []
    for i, (how, when) in enumerate(kills, start=1):
        before = _snapshot(out)
        source = sheets(i)
        ran = runner.antt("run", "--cycle", CYCLE, "--source", str(source), "--out", str(out),
                          **({"kill_at": when} if how == "point" else {"kill_after": when}))
        if how == "point":
            assert ran.killed, f"{when} was not reached: {ran.log}"
        else:
            assert ran.killed or ran.code == 0, ran.log
        _assert_sound(out, before, _sha(source))
        outcomes.append((when, ran.killed, _tree(out / CYCLE) != before.folder, _recorded(out) != before.recorded))

    source = sheets(len(kills) + 1)
    ran = runner.antt("run", "--cycle", CYCLE, "--source", str(source), "--out", str(out))
    assert ran.code == 0, ran.log
    _assert_complete(out / CYCLE, _sha(source))
    document = json.loads((out / CYCLE / "results.json").read_text(encoding="utf-8"))
    assert _recorded(out) == (_sha(source), _rows(document))
    assert {p.name for p in out.iterdir()} <= KEPT  # the killed runs' staging folders are gone
    # at the named points: the old folder stands until the swap, the new one from it on; the history database
    # changes only with the commit that follows the swap
    changed = {when: (folder, recorded) for when, _, folder, recorded in outcomes if isinstance(when, str)}
    swap, commit = KILL_POINTS.index("publish:after_swap"), KILL_POINTS.index("after:record_history")
    assert changed == {p: (i >= swap, i >= commit) for i, p in enumerate(KILL_POINTS)}
    killed = sum(k for _, k, _, _ in outcomes)
    print(f"\n{len(kills)} kill points tried ({len(KILL_POINTS)} named, {TIMED_KILLS} timed), {killed} killed; "
          f"a normal run takes {normal_run:.1f}s")


def test_a_second_run_of_the_same_cycle_is_refused_while_the_first_holds_it(runner, sheets, published, tmp_path):
    out = _copy(published[0], tmp_path / "out")
    before = _snapshot(out)
    with cycle_lock(out, CYCLE):  # as a run of the cycle in this process would
        second = runner.antt("run", "--cycle", CYCLE, "--source", str(sheets(1)), "--out", str(out))
        assert _snapshot(out) == before  # refused before anything was archived or written
        report = runner.antt("report", "--cycle", CYCLE, "--out", str(out))
        remind = runner.antt("remind", "--cycle", CYCLE, "--source", str(sheets(1)), "--out", str(out),
                             "--today", "2026-06-09", "--dry-run", str(tmp_path / "drafts"))
        other_cycle = runner.antt("run", "--cycle", "2026-Y", "--source", str(sheets(1)), "--out", str(out))
    lines = [ln for ln in second.log.splitlines() if ln.strip()]
    assert second.code == 2 and len(lines) == 1, second.log
    assert re.fullmatch(rf"lỗi: một lượt chạy của kỳ {CYCLE} đang diễn ra trong {re.escape(str(out))} "
                        rf"\(tiến trình {os.getpid()}, từ \d\d:\d\d\); chờ xong rồi thử lại", lines[0])
    for refused in (report, remind):
        assert refused.code == 2 and f"một lượt chạy của kỳ {CYCLE} đang diễn ra" in refused.log, refused.log
    assert not (tmp_path / "drafts").exists()
    assert other_cycle.code == 0, other_cycle.log  # another cycle in the same folder is not held up
    again = runner.antt("run", "--cycle", CYCLE, "--source", str(sheets(1)), "--out", str(out))
    assert again.code == 0, again.log
    _assert_complete(out / CYCLE, _sha(sheets(1)))


def test_the_lock_names_who_holds_it_and_is_free_again_after_it(tmp_path):
    with cycle_lock(tmp_path, CYCLE, job="report"):
        with pytest.raises(Busy, match=rf"^một lượt dựng và gửi báo cáo của kỳ {CYCLE} đang diễn ra trong .* "
                                       rf"\(tiến trình {os.getpid()}, từ \d\d:\d\d\)"):
            with cycle_lock(tmp_path, CYCLE):
                pass
        with pytest.raises(Busy, match=rf"^một lượt dựng và gửi báo cáo của kỳ {CYCLE}"):
            ensure_free(tmp_path, CYCLE)  # what a run checks before it archives anything
        with cycle_lock(tmp_path, "2026-Y"):  # another cycle has its own lock
            pass
    ensure_free(tmp_path, CYCLE)
    with cycle_lock(tmp_path, CYCLE):
        pass
    ensure_free(tmp_path / "new", CYCLE)  # no lock yet: free, and nothing is created
    assert not (tmp_path / "new").exists()


# Takes cycle argv[2]'s lock in argv[1], forks a child that lives on, prints its pid and is killed.
FORKING_HOLDER = r"""
import os, signal, sys, time
from antt.store.locks import cycle_lock
with cycle_lock(sys.argv[1], sys.argv[2]):
    child = os.fork()
    if child == 0:
        time.sleep(60)
        os._exit(0)
    print(child, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_runs_lock_is_free_while_a_process_it_forked_lives_on(tmp_path):
    """The validation's, report.docx's and the scorecards' processes are forked by the run: a flock belongs to the
    open file they share, and the run's lock must go with the run."""
    proc = subprocess.Popen([sys.executable, "-c", FORKING_HOLDER, str(tmp_path), CYCLE], stdout=subprocess.PIPE,
                            text=True, cwd=REPO)
    child = int(proc.stdout.readline())  # the child keeps the pipe open: not read to its end
    proc.stdout.close()
    try:
        assert proc.wait(timeout=60) == -signal.SIGKILL
        os.kill(child, 0)  # still alive
        ensure_free(tmp_path, CYCLE)
        with cycle_lock(tmp_path, CYCLE):
            pass
    finally:
        os.kill(child, signal.SIGKILL)


# Records the results document in file argv[2] into the output folder argv[1] as cycle argv[3], once told to go.
WRITER = r"""
import json, sys
from antt.store import history
document = json.loads(open(sys.argv[2], encoding="utf-8").read())
document["cycle"]["id"] = sys.argv[3]
print("ready", flush=True)
sys.stdin.readline()
history.record_cycle(sys.argv[1], document)
"""


def _writer(out: Path, document: Path, cycle_id: str, env: dict | None = None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTT_")} | (env or {})
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(out), str(document), cycle_id], env=env, cwd=REPO,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    return proc


def test_the_history_database_survives_a_kill_inside_the_transaction(published, tmp_path):
    out = _copy(published[0], tmp_path / "out")
    before = _recorded(out)
    document = history.load_document(out, CYCLE)
    changed = copy.deepcopy(document)
    template = changed["schools"][0]
    # enough rows that the uncommitted transaction spills into the WAL file before the kill
    changed["schools"] = [template | {"school_code": f"S{i:06d}", "rank_overall": i + 1} for i in range(10_000)]
    changed["input"]["sha256"] = "0" * 64
    (tmp_path / "changed.json").write_text(json.dumps(changed), encoding="utf-8")
    proc = _writer(out, tmp_path / "changed.json", CYCLE, env={"ANTT_KILL_AT": "history:before_commit"})
    _, errors = proc.communicate("go\n", timeout=120)
    assert proc.returncode == -signal.SIGKILL, errors
    assert (out / "history.sqlite-wal").stat().st_size > 1_000_000  # the dead transaction's pages are in the WAL
    assert _recorded(out) == before
    assert history.load_document(out, CYCLE) == document
    history.record_cycle(out, changed)  # and the next write goes through
    assert _recorded(out) == ("0" * 64, _rows(changed))


def test_runs_of_two_cycles_can_create_one_new_history_database_at_the_same_moment(published, tmp_path):
    (tmp_path / "document.json").write_text(json.dumps(history.load_document(published[0], CYCLE)), encoding="utf-8")
    out = tmp_path / "out"
    writers = [_writer(out, tmp_path / "document.json", cycle_id) for cycle_id in ("2025-Y", "2026-H1", "2026-Y")]
    for proc in writers:  # all have imported and wait: let them go together
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in writers:
        _, errors = proc.communicate(timeout=120)
        assert proc.returncode == 0, errors
    assert [c["id"] for c in history.recorded_cycles(out)] == ["2025-Y", "2026-H1", "2026-Y"]


def test_without_an_atomic_exchange_a_death_between_the_two_renames_is_repaired(tmp_path, monkeypatch):
    monkeypatch.setattr(publish, "_exchange", lambda a, b: False)
    final = tmp_path / CYCLE
    with publish.staged_folder(final) as staging:
        (staging / "results.json").write_text("old", encoding="utf-8")
    with publish.staged_folder(final) as staging:
        (staging / "results.json").write_text("new", encoding="utf-8")
    assert (final / "results.json").read_text(encoding="utf-8") == "new"
    # a run that died with the folder moved aside and its staging folder half written
    os.replace(final, final.with_name(f".{CYCLE}.previous"))
    (tmp_path / f".{CYCLE}.staging-dead").mkdir()
    with pytest.raises(RuntimeError):
        with publish.staged_folder(final):
            raise RuntimeError("this run fails too")
    assert (final / "results.json").read_text(encoding="utf-8") == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == [CYCLE]


def test_the_swap_is_one_atomic_exchange_on_linux(tmp_path):
    if sys.platform != "linux":
        pytest.skip("renameat2 is Linux only")
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "from-a").touch()
    assert publish._exchange(a, b)
    assert [p.name for p in b.iterdir()] == ["from-a"] and not list(a.iterdir())
