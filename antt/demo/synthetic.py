"""Synthetic data for N schools: a registry and a messy response export in the exact shape of the demo.

The demo registry (one district office, about 60 schools) is replicated as districts `D0001`, `D0002` and so on; each
district gets its own demo sheet (same mix of problems, seeded per district), and the sheets are concatenated under
one header. Seeded and reproducible: the same N and seed give the same bytes.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pandas as pd

from antt.config import Config
from antt.demo.build import build_demo
from antt.outputs.publish import write_atomic


def synthetic_registry(template: pd.DataFrame, n: int, office: str) -> pd.DataFrame:
    """N schools: the template registry repeated per district, codes, wards and e-mails made unique; each district
    is a reporting unit named `office` and its tag."""
    districts = math.ceil(n / len(template))
    parts = []
    for d in range(1, districts + 1):
        tag = f"D{d:04d}"
        part = template.copy()
        part["school_code"] = tag + part["school_code"]
        part["school_name"] = part["school_name"] + f" ({tag})"
        part["ward"] = part["ward"] + f" ({tag})"
        suffix = f".{tag.lower()}@"
        part["emails"] = part["emails"].map(lambda ms, s=suffix: [m.replace("@", s) for m in ms])
        part["unit"] = f"{office} {tag}"
        parts.append(part)
    return pd.concat(parts, ignore_index=True).head(n)


def registry_csv(registry: pd.DataFrame) -> str:
    out = registry.copy()
    out["emails"] = out["emails"].map(";".join)
    for col in ("opened", "closed"):
        out[col] = out[col].map(lambda d: d.isoformat() if d is not None and not pd.isna(d) else "")
    return out.to_csv(index=False, lineterminator="\n")


def synthetic_sheet(config: Config, registry: pd.DataFrame, cycle_ids: list[str], seed: int = 2026) -> str:
    """One response-sheet CSV for every district of a synthetic registry, rows concatenated in district order."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    districts = registry["unit"]
    header_written = False
    for i, (_, part) in enumerate(registry.groupby(districts, sort=True)):
        demo = build_demo(config, part.reset_index(drop=True), cycle_ids, seed=seed + i)
        if not header_written:
            writer.writerow(demo.headers)
            header_written = True
        writer.writerows(r.cells for r in demo.rows)
    return buf.getvalue()


def write_synthetic(folder: Path, config: Config, template: pd.DataFrame, n: int, cycle_ids: list[str],
                    seed: int = 2026) -> tuple[Path, Path]:
    """Write `schools.csv` and `responses.csv` for N schools into `folder`; returns their paths."""
    registry = synthetic_registry(template, n, config.office.office_short)
    schools, responses = folder / "schools.csv", folder / "responses.csv"
    write_atomic(schools, registry_csv(registry))
    write_atomic(responses, synthetic_sheet(config, registry, cycle_ids, seed))
    return schools, responses
