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
    """Copy the file `source` to `<out>/raw/<sha256><suffix>` once (never overwritten) and log the receipt."""
    return archive_bytes(Path(source).read_bytes(), Path(source).suffix.lower(), str(source), out)


def archive_bytes(data: bytes, suffix: str, original: str, out: Path) -> ArchivedInput:
    """Store a raw input (a file's bytes, or a fetched sheet's snapshot) content-addressed under `<out>/raw/`.

    The same content is stored once and never rewritten; every receipt is appended to `raw/index.jsonl`.
    """
    digest = hashlib.sha256(data).hexdigest()
    raw_dir = out / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)
    stored = raw_dir / f"{digest}{suffix}"
    if not stored.exists():
        tmp = stored.with_name(f".{stored.name}.tmp{os.getpid()}")
        tmp.write_bytes(data)
        os.replace(tmp, stored)
    entry = {"received_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "sha256": digest,
             "size": len(data), "original": original}
    with open(raw_dir / "index.jsonl", "a", encoding="utf-8") as log:
        log.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return ArchivedInput(sha256=digest, size=len(data), original=original, stored=stored)
