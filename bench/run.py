"""Benchmark: `antt run` as a user runs it, from one district to 50,000 schools, against a plain-pandas script.

    python bench/run.py                      # N = 60, 1,000, 5,000, 50,000, each run three times, the fastest kept
    python bench/run.py --sizes 60,1000      # a quick look
    python bench/run.py --repeat 1           # each run once (a shared machine is noisy: the default is three)
    python bench/run.py --warmup 0           # no untimed run first

For each N it writes a synthetic registry and response export (antt.demo.synthetic: the demo's mix of problems,
seeded), then times, each in its own fresh process: `antt run` on those files (whole process: interpreter, imports,
Prefect, the flow), and `bench/plain.py` (the same rules by hand in plain pandas: no Prefect, no Great Expectations,
no reports). Peak memory is the whole process tree's (the run and every process it starts, Prefect's temporary
server and forked workers included), sampled from /proc as the sum of proportional set sizes: a page shared by
several processes counts once. Sampling takes CPU from the run, so the memory comes from one more run of each,
after the timed ones (its time is kept as `wall_sampled_s`, and printed). The per-stage table is the run's own
(`timings_s` of its manifest.json: the main process's stages, one after another; `render_scorecards` and
`finish_workbook` are its wait for work other processes did meanwhile, whose own times are the "(background)"
lines, from the manifest's `background_s`, and overlap the stages); what is outside the stages (interpreter,
imports, the Prefect server, engine and GX set-up, exit) is its own line. The load average is printed with every
measurement. It prints a table and writes bench/results.json.

Before the first measurement, one untimed `antt run` of the first size into a throwaway folder (`--warmup`, as
hyperfine does): the first run on a machine migrates a new Prefect database and keeps a copy of it for later runs
(antt.flows.local_server), and reads its files from a cold disk cache. Its time is printed and kept as
`warmup_s`, not measured against the targets.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
STAGES = ["read", "normalize", "validate", "score", "rank", "write_files", "render_data_quality", "render_report",
          "render_scorecards", "finish_workbook", "record_history"]
# work forked processes did meanwhile (the manifest's `background_s`, each from its process's or pool's start to its
# end): report.docx, which overlaps write_files' end, render_data_quality and render_report (report.html and the unit
# pages), and ranking.xlsx and the scorecards, which overlap render_scorecards and finish_workbook
BACKGROUND = ["report_docx", "write_workbook", "render_scorecards"]
TARGETS = {"wall_60_s": 8.0, "ratio_50000": 10.0, "rss_50000_mib": 1536.0, "growth_50000_over_5000": 10.0}
PAGE = os.sysconf("SC_PAGE_SIZE")


def _quiet_environment(home: Path) -> dict[str, str]:
    keep = ("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS",)  # a caller's patience on a busy machine
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_") or k in keep}
    env |= {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
            "GX_ANALYTICS_ENABLED": "false"}
    return env


def _tree_memory(pid: int) -> int:
    """Bytes of memory `pid` and all its descendants hold now, as the sum of their proportional set sizes (PSS): a
    page shared by forked workers, or by every process mapping the same library, counts once in all (a sum of
    RSS would count it in each). 0 once the process is gone."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
                    break
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


def timed(args: list[str], env: dict[str, str] | None = None, memory: bool = False) -> dict:
    """Run `args` to the end: wall seconds and the load average at start; with `memory`, also the peak memory of its
    process tree (MiB, PSS), sampled 20 times a second. Reading every process's page tables that often takes CPU
    from the run on a two-core machine (2 to 3 s of a national run), so the times the targets are checked on come
    from runs without the sampler and the memory from a run of its own."""
    load = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = [0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_memory(proc.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    if memory:
        sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    if memory:
        sampler.join()
    if proc.returncode:
        sys.exit(f"{' '.join(args[:3])}… failed: {err.decode(errors='replace').strip().splitlines()[-1:]}")
    return {"wall_s": wall, "load_1min": load} | ({"peak_rss_mib": peak[0] / 2**20} if memory else {})


def measure(folder: Path, cycle: str, repeat: int) -> dict:
    """`antt run` and the plain script on the same files, each `repeat` times, then once more each with the memory
    sampler (`timed`); the fastest timed run of each is kept (its load with it), and the peak memory is that of the
    sampled run. The stage table is from the fastest run's manifest. Every run of antt writes into a new,
    empty output folder (`runs/<i>`, the disk synced before the clock starts), so what is measured does not depend
    on earlier runs: no previous outputs of the cycle to replace, no history of earlier cycles to draw trends from.
    The folders are removed once every size is measured, never between runs: on ext4, creating files within a minute
    of removing many walks past each removed inode (the kernel's `recently_deleted`), and a national run's 50,000
    pages then took seconds of system time more than on a disk at rest."""
    responses, schools, base = folder / "responses.csv", folder / "schools.csv", folder / "runs"
    plain_args = [sys.executable, str(HERE / "plain.py"), str(responses), str(schools), cycle, str(folder / "plain")]

    def antt_run(out: Path, memory: bool = False) -> dict:
        os.sync()  # the generator's and earlier runs' writes reach the disk before the clock starts, not during
        return timed([sys.executable, "-m", "antt", "run", "--cycle", cycle, "--source", str(responses),
                      "--schools", str(schools), "--out", str(out)], env=_quiet_environment(out / ".prefect"),
                     memory=memory)

    runs, plains = [], []
    for i in range(repeat):
        out = base / str(i + 1)
        runs.append(antt_run(out))
        manifest = json.loads((out / cycle / "manifest.json").read_text(encoding="utf-8"))
        runs[-1]["stages_s"], runs[-1]["background_s"] = manifest["timings_s"], manifest.get("background_s", {})
        plains.append(timed(plain_args))
    sampled, plain_sampled = antt_run(base / "memory", memory=True), timed(plain_args, memory=True)
    run, plain = min(runs, key=lambda r: r["wall_s"]), min(plains, key=lambda r: r["wall_s"])
    run = run | {"peak_rss_mib": sampled["peak_rss_mib"], "wall_sampled_s": sampled["wall_s"]}
    plain = plain | {"peak_rss_mib": plain_sampled["peak_rss_mib"], "wall_sampled_s": plain_sampled["wall_s"]}
    return {"antt_run": run, "plain": plain, "ratio": run["wall_s"] / plain["wall_s"],
            "all_walls_s": [round(r["wall_s"], 2) for r in runs],
            "all_plain_s": [round(p["wall_s"], 2) for p in plains]}


def generate(n: int, folder: Path, cycle: str, seed: int) -> float:
    from antt.config import load_config
    from antt.demo.synthetic import write_synthetic
    from antt.intake.registry import load_registry

    config = load_config(None)
    template = load_registry(config.root / "schools.csv", config.form.levels)
    start = time.perf_counter()
    write_synthetic(folder, config, template, n, [cycle], seed=seed)
    return time.perf_counter() - start


def table(rows: dict[int, dict]) -> str:
    sizes = sorted(rows)

    def line(label: str, values, fmt: str) -> str:
        return f"{label:<34}" + "".join(f"{v:>12{fmt}}" for v in values)

    head = f"{'stage (s)':<34}" + "".join(f"{n:>12,}" for n in sizes)
    runs = [rows[n]["antt_run"] for n in sizes]
    lines = [head, "-" * len(head)]
    lines += [line(stage, [r["stages_s"].get(stage, 0) for r in runs], ".2f") for stage in STAGES]
    lines += [line(f"  {name} (background)", [r.get("background_s", {}).get(name, 0) for r in runs], ".2f")
              for name in BACKGROUND]
    lines.append(line("outside the stages", [r["wall_s"] - sum(r["stages_s"].values()) for r in runs], ".2f"))
    lines.append("-" * len(head))
    lines.append(line("antt run, whole process (s)", [r["wall_s"] for r in runs], ".2f"))
    lines.append(line("plain-pandas script (s)", [rows[n]["plain"]["wall_s"] for n in sizes], ".2f"))
    lines.append(line("ratio", [rows[n]["ratio"] for n in sizes], ".1f"))
    lines.append(line("antt run with the sampler (s)", [r["wall_sampled_s"] for r in runs], ".2f"))
    lines.append(line("peak memory, antt run (MiB)", [r["peak_rss_mib"] for r in runs], ".0f"))
    lines.append(line("peak memory, plain (MiB)", [rows[n]["plain"]["peak_rss_mib"] for n in sizes], ".0f"))
    lines.append(line("load (1 min) at the run", [r["load_1min"] for r in runs], ".1f"))
    return "\n".join(lines)


def verdicts(rows: dict[int, dict]) -> dict[str, object]:
    out: dict[str, object] = {}
    if 60 in rows:
        out["wall_60_s"] = round(rows[60]["antt_run"]["wall_s"], 2)
    if 50000 in rows:
        out["ratio_50000"] = round(rows[50000]["ratio"], 1)
        out["rss_50000_mib"] = round(rows[50000]["antt_run"]["peak_rss_mib"])
        if 5000 in rows:
            out["growth_50000_over_5000"] = round(rows[50000]["antt_run"]["wall_s"] / rows[5000]["antt_run"]["wall_s"],
                                                  2)
    return {k: {"measured": v, "target": TARGETS[k], "met": v <= TARGETS[k]} for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="60,1000,5000,50000")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size; the fastest is kept")
    parser.add_argument("--cycle", default="2026-Y")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--work", type=Path, default=HERE / "work")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs before the first measurement")
    args = parser.parse_args()

    rows: dict[int, dict] = {}
    warmups: list[float] = []
    sizes = [int(s) for s in args.sizes.split(",")]
    for n in sizes:  # an interrupted benchmark's runs, and those of this script's earlier versions, go first
        for left in ("runs", "out"):
            shutil.rmtree(args.work / str(n) / left, ignore_errors=True)
    for n in sizes:
        folder = args.work / str(n)
        generated = generate(n, folder, args.cycle, args.seed)
        for i in range(args.warmup if not warmups else 0):
            warm = folder / f"warmup-{i}"
            shutil.rmtree(warm, ignore_errors=True)
            warmups.append(timed([sys.executable, "-m", "antt", "run", "--cycle", args.cycle, "--source",
                                  str(folder / "responses.csv"), "--schools", str(folder / "schools.csv"), "--out",
                                  str(warm)], env=_quiet_environment(warm / ".prefect"))["wall_s"])
            shutil.rmtree(warm, ignore_errors=True)
            print(f"warm-up (untimed) N={n:,}: {warmups[-1]:.2f} s", file=sys.stderr, flush=True)
        rows[n] = measure(folder, args.cycle, args.repeat) | {"generate_s": generated}
        run = rows[n]["antt_run"]
        print(f"N={n:,}: antt run {run['wall_s']:.2f} s (all: {rows[n]['all_walls_s']}), plain "
              f"{rows[n]['plain']['wall_s']:.2f} s (all: {rows[n]['all_plain_s']}), load {run['load_1min']:.1f}",
              file=sys.stderr, flush=True)

    print(table(rows))
    checks = verdicts(rows)
    for name, check in checks.items():
        print(f"{name:<34}{check['measured']:>12} (target ≤ {check['target']}) {'met' if check['met'] else 'NOT met'}")
    (HERE / "results.json").write_text(json.dumps({"cycle": args.cycle, "seed": args.seed, "cpus": os.cpu_count(),
                                                   "warmup_s": warmups, "sizes": rows, "targets": checks},
                                                  indent=1) + "\n")
    for n in sizes:  # every run is measured: now their folders may go
        shutil.rmtree(args.work / str(n) / "runs", ignore_errors=True)


if __name__ == "__main__":
    main()
