"""Benchmark: the real pipeline, through the Prefect flow, from one district to 50,000 schools.

    python bench/run.py                      # N = 60, 1,000, 5,000, 10,000, 50,000
    python bench/run.py --sizes 60,1000      # a quick look

For each N it writes a synthetic registry and response export (antt.demo.synthetic: the demo's mix of problems, seeded),
then runs one worker process per N that measures, in this order: a baseline (pandas reading the same export as
text), the Prefect engine start (a trivial flow, reported on its own line), and the `run-cycle` flow with its stage
timings; peak RSS is the worker's own. At N = 1,000 it also runs `antt run` on the same files and checks that
`ranking.csv` and `results.json` are byte-identical. It prints a table and writes bench/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
STAGES = ["read", "normalize", "validate", "score", "rank", "write_files", "render_report", "render_scorecards",
          "render_data_quality", "finish_workbook", "record_history"]
TARGETS = {"total_50000_s": 60.0, "rss_50000_mib": 2048.0, "growth_50000_over_5000": 12.0, "total_1000_s": 5.0}


def _quiet_environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
            "PREFECT_LOGGING_LEVEL": "CRITICAL", "GX_ANALYTICS_ENABLED": "false"}
    return env


def worker(folder: Path, cycle: str) -> dict:
    """Runs inside a fresh process: baseline, engine start, the flow. Prints one JSON line."""
    import pandas as pd
    from prefect import flow

    from antt.flows.cycle import run_cycle

    responses, schools = folder / "responses.csv", folder / "schools.csv"
    start = time.perf_counter()
    pd.read_csv(responses, dtype=str, keep_default_na=False)
    baseline = time.perf_counter() - start

    @flow(name="bench-warm-up")
    def warm_up() -> None:
        return None

    start = time.perf_counter()
    warm_up()
    server_start = time.perf_counter() - start

    start = time.perf_counter()
    result = run_cycle(cycle=cycle, source=str(responses), schools=str(schools), out=str(folder / "out"))
    total = time.perf_counter() - start
    return {"baseline_read_s": baseline, "server_start_s": server_start, "total_s": total,
            "stages_s": result["timings"], "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "folder": result["folder"]}


def generate(n: int, folder: Path, cycle: str, seed: int) -> float:
    from antt.config import load_config
    from antt.demo.synthetic import write_synthetic
    from antt.intake.registry import load_registry

    config = load_config(None)
    template = load_registry(config.root / "schools.csv", config.form.levels)
    start = time.perf_counter()
    write_synthetic(folder, config, template, n, [cycle], seed=seed)
    return time.perf_counter() - start


def identical_to_cli(folder: Path, cycle: str, run_folder: Path) -> dict[str, bool]:
    """`antt run` on the same files, into its own output folder; compare the machine outputs byte for byte."""
    cli_out = folder / "cli-out"
    env = _quiet_environment(folder / ".prefect-cli")
    subprocess.run([sys.executable, "-m", "antt", "run", "--cycle", cycle, "--source", str(folder / "responses.csv"),
                    "--schools", str(folder / "schools.csv"), "--out", str(cli_out)], check=True, env=env,
                   capture_output=True)
    return {name: (cli_out / cycle / name).read_bytes() == (run_folder / name).read_bytes()
            for name in ("ranking.csv", "results.json", "issues.csv")}


def table(rows: dict[int, dict]) -> str:
    sizes = sorted(rows)
    head = f"{'stage (s)':<26}" + "".join(f"{n:>12,}" for n in sizes)
    lines = [head, "-" * len(head)]
    for stage in STAGES:
        lines.append(f"{stage:<26}" + "".join(f"{rows[n]['stages_s'].get(stage, 0):>12.2f}" for n in sizes))
    lines.append("-" * len(head))
    lines.append(f"{'total (flow, no server)':<26}" + "".join(f"{rows[n]['total_s']:>12.2f}" for n in sizes))
    lines.append(f"{'baseline: pandas read':<26}" + "".join(f"{rows[n]['baseline_read_s']:>12.2f}" for n in sizes))
    lines.append(f"{'ratio total / baseline':<26}" +
                 "".join(f"{rows[n]['total_s'] / rows[n]['baseline_read_s']:>12.0f}" for n in sizes))
    lines.append(f"{'peak RSS (MiB)':<26}" + "".join(f"{rows[n]['peak_rss_mib']:>12.0f}" for n in sizes))
    lines.append(f"{'Prefect server start (s)':<26}" + "".join(f"{rows[n]['server_start_s']:>12.2f}" for n in sizes))
    return "\n".join(lines)


def verdicts(rows: dict[int, dict]) -> dict[str, object]:
    out: dict[str, object] = {}
    if 50000 in rows:
        out["total_50000_s"] = round(rows[50000]["total_s"], 2)
        out["rss_50000_mib"] = round(rows[50000]["peak_rss_mib"])
        if 5000 in rows:
            out["growth_50000_over_5000"] = round(rows[50000]["total_s"] / rows[5000]["total_s"], 2)
    if 1000 in rows:
        out["total_1000_s"] = round(rows[1000]["total_s"], 2)
    return {k: {"measured": v, "target": TARGETS[k], "met": v <= TARGETS[k]} for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="60,1000,5000,10000,50000")
    parser.add_argument("--cycle", default="2026-Y")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--work", type=Path, default=HERE / "work")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.cycle)))
        return

    rows: dict[int, dict] = {}
    for n in (int(s) for s in args.sizes.split(",")):
        folder = args.work / str(n)
        generated = generate(n, folder, args.cycle, args.seed)
        proc = subprocess.run([sys.executable, __file__, "--worker", str(folder), "--cycle", args.cycle],
                              env=_quiet_environment(folder / ".prefect"), capture_output=True, text=True)
        if proc.returncode:
            sys.exit(f"N={n}: worker failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr else '?'}")
        rows[n] = json.loads(proc.stdout.strip().splitlines()[-1]) | {"generate_s": generated}
        print(f"N={n:,}: {rows[n]['total_s']:.2f} s", file=sys.stderr, flush=True)
        if n == 1000:
            rows[n]["identical_to_antt_run"] = identical_to_cli(folder, args.cycle, Path(rows[n]["folder"]))

    print(table(rows))
    checks = verdicts(rows)
    for name, check in checks.items():
        print(f"{name:<26}{check['measured']:>12} (target ≤ {check['target']}) {'met' if check['met'] else 'NOT met'}")
    if 1000 in rows:
        same = rows[1000]["identical_to_antt_run"]
        print(f"{'N=1,000 same as antt run':<26}{'yes' if all(same.values()) else 'NO: ' + str(same):>12}")
    (HERE / "results.json").write_text(json.dumps({"cycle": args.cycle, "seed": args.seed, "cpus": os.cpu_count(),
                                                   "sizes": rows, "targets": checks}, indent=1) + "\n")


if __name__ == "__main__":
    main()
