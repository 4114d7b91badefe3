"""Benchmark: province throughput, units per hour with one worker and with two, on the production setup.

    python bench/province.py                          # units of 13 and of 1,000 schools
    python bench/province.py --sizes 13 --units 6     # a quick look

It starts a throwaway PostgreSQL (tests/postgres.py) holding the Prefect server's state and antt's history, a real
`prefect server start`, and `antt deploy`s the flows. For each unit size (a synthetic district of N schools,
antt.demo.synthetic: 13 is the size of the held-out district, 1,000 a large one) and for one worker, then two
(process workers, `--limit 1` each), it runs the `province` flow over `--units` units fanned out as `run-cycle`
flow runs, and measures the wall time from the province's start to its roll-up. Units per hour = units / wall
time. The province flow waits in this process, so the workers' slots all go to units. Each measurement gets a
fresh history database, so no unit is kept from an earlier roll-up. Results go to bench/province.json.

A measurement, not a test: on a shared machine the figures move with the load; the table says how busy it was.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
CYCLE = "2026-Y"
sys.path.insert(0, str(HERE.parent / "tests"))

from postgres import PostgresServer  # noqa: E402 (the tests' throwaway server, found beside them)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(args, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _units(folder: Path, n: int, units: int, seed: int) -> Path:
    """`units` units, each a synthetic district of `n` schools (the same data: the work is what is measured)."""
    from antt.config import load_config
    from antt.demo.synthetic import write_synthetic
    from antt.intake.registry import load_registry

    config = load_config(None)
    data = folder / "data"
    write_synthetic(data, config, load_registry(config.root / "schools.csv", config.form.levels), n, [CYCLE],
                    seed=seed)
    entries = [{"name": f"Đơn vị {i + 1:02d}", "source": str(data / "responses.csv"),
                "registry": str(data / "schools.csv"), "out": str(folder / "out" / f"unit-{i + 1:02d}")}
               for i in range(units)]
    path = folder / "units.yaml"
    path.write_text(yaml.safe_dump({"units": entries}, allow_unicode=True), encoding="utf-8")
    return path


def measure(units_file: Path, folder: Path, workers: int, env: dict, postgres: PostgresServer, tag: str) -> dict:
    """One province run over the units with `workers` process workers: wall time and units per hour."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from antt.flows.province import province
    from antt.store import history

    history_url = postgres.create_database(f"history_{tag}")
    worker_env = env | {history.URL_ENV: history_url}
    procs = [_start([str(BIN / "prefect"), "worker", "start", "--pool", "antt", "--type", "process",
                     "--limit", "1", "--name", f"{tag}-w{i}"], worker_env, folder / f"{tag}-w{i}.log")
             for i in range(workers)]
    os.environ[history.URL_ENV] = history_url
    load = os.getloadavg()[0]
    try:
        time.sleep(3)  # the workers have polled the pool once
        started = time.perf_counter()
        with temporary_settings(updates={PREFECT_API_URL: env["PREFECT_API_URL"]}):
            result = province(units_file=str(units_file), cycle=CYCLE, out=str(folder / f"province-{tag}"),
                              deployment="run-cycle/manual", wait_minutes=120)
        wall = time.perf_counter() - started
    finally:
        for proc in procs:
            _stop(proc)
    if result["failed"]:
        sys.exit(f"{tag}: units failed: {result['failed']}")
    units = len(result["ran"])
    return {"workers": workers, "units": units, "wall_s": round(wall, 1),
            "units_per_hour": round(units * 3600 / wall), "load_before": round(load, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="13,1000")
    parser.add_argument("--units", type=int, default=6)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--work", type=Path, default=HERE / "work" / "province")
    args = parser.parse_args()

    args.work.mkdir(parents=True, exist_ok=True)
    postgres = PostgresServer().start()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ANTT_"))} | {
        "PREFECT_HOME": str(args.work / "prefect-home"), "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": postgres.create_database("prefect", driver="asyncpg"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
        "PREFECT_LOGGING_LEVEL": "WARNING", "PREFECT_WORKER_QUERY_SECONDS": "1", "GX_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1"}
    os.environ.update({k: env[k] for k in ("PREFECT_HOME", "PREFECT_LOGGING_LEVEL", "GX_ANALYTICS_ENABLED")})
    server = _start([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)], env,
                    args.work / "server.log")
    rows = []
    try:
        while True:
            try:
                if httpx.get(f"{env['PREFECT_API_URL']}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        for n in (int(s) for s in args.sizes.split(",")):
            folder = args.work / str(n)
            folder.mkdir(parents=True, exist_ok=True)
            units_file = _units(folder, n, args.units, args.seed)
            subprocess.run([str(BIN / "antt"), "deploy", "--source", str(folder / "data" / "responses.csv"),
                            "--out", str(folder / "out"), "--units", str(units_file)], env=env, check=True,
                           capture_output=True)
            for workers in (1, 2):
                row = {"schools_per_unit": n} | measure(units_file, folder, workers, env, postgres, f"n{n}_w{workers}")
                print(json.dumps(row), file=sys.stderr, flush=True)
                rows.append(row)
    finally:
        _stop(server)
        postgres.stop()

    print(f"{'schools/unit':>12} {'workers':>8} {'units':>6} {'wall (s)':>9} {'units/hour':>11} {'load':>5}")
    for r in rows:
        print(f"{r['schools_per_unit']:>12,} {r['workers']:>8} {r['units']:>6} {r['wall_s']:>9} "
              f"{r['units_per_hour']:>11,} {r['load_before']:>5}")
    (HERE / "province.json").write_text(json.dumps({"cycle": CYCLE, "seed": args.seed, "cpus": os.cpu_count(),
                                                    "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
