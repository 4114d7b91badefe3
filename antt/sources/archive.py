"""Raw inputs are archived byte for byte, content-addressed by sha256, before anything parses them."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path


@dataclass(frozen=True)
class ArchivedInput:
    sha256: str
    size: int
    original: str
    stored: Path


def archive_input(source: Path, out: Path) -> ArchivedInput:
    """Copy `source` to `<out>/raw/<sha256><suffix>` once (never overwritten) and log the receipt."""
    data = Path(source).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    raw_dir = out / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)
    stored = raw_dir / f"{digest}{Path(source).suffix.lower()}"
    if not stored.exists():
        tmp = stored.with_name(f".{stored.name}.tmp{os.getpid()}")
        tmp.write_bytes(data)
        os.replace(tmp, stored)
    entry = {"received_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "sha256": digest,
             "size": len(data), "original": str(source)}
    with open(raw_dir / "index.jsonl", "a", encoding="utf-8") as log:
        log.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return ArchivedInput(sha256=digest, size=len(data), original=str(source), stored=stored)
