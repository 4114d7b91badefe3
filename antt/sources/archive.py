"""Raw inputs are archived byte for byte, content-addressed by sha256, before anything parses them."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

_CHUNK = 1 << 20
STALE_COPY_S = 24 * 3600


@dataclass(frozen=True)
class ArchivedInput:
    sha256: str
    size: int
    original: str
    stored: Path


def archive_input(source: Path, out: Path) -> ArchivedInput:
    """Copy the file `source` to `<out>/raw/<sha256><suffix>` once (never overwritten) and log the receipt.

    The file is hashed while it is copied, a chunk at a time: a large export is never held in memory whole, and
    what is stored is exactly what was hashed.
    """
    source = Path(source)
    raw_dir = _raw_dir(out)
    fd, tmp = tempfile.mkstemp(dir=raw_dir, prefix=".incoming.", suffix=".tmp")
    digest, size = hashlib.sha256(), 0
    try:
        with open(source, "rb") as src, os.fdopen(fd, "wb") as dst:
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
                dst.write(chunk)
                size += len(chunk)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return _keep(Path(tmp), digest.hexdigest(), size, source.suffix.lower(), str(source), raw_dir)


def archive_bytes(data: bytes, suffix: str, original: str, out: Path) -> ArchivedInput:
    """Store a raw input (a file's bytes, or a fetched sheet's snapshot) content-addressed under `<out>/raw/`.

    The same content is stored once and never rewritten; every receipt is appended to `raw/index.jsonl`.
    """
    raw_dir = _raw_dir(out)
    fd, tmp = tempfile.mkstemp(dir=raw_dir, prefix=".incoming.", suffix=".tmp")
    with os.fdopen(fd, "wb") as dst:
        dst.write(data)
    return _keep(Path(tmp), hashlib.sha256(data).hexdigest(), len(data), suffix, original, raw_dir)


def _raw_dir(out: Path) -> Path:
    raw_dir = Path(out) / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)
    _sweep(raw_dir)
    return raw_dir


def _sweep(raw_dir: Path, older_than_s: float = STALE_COPY_S) -> None:
    """Remove partial copies left by a run killed while archiving. A copy takes seconds; one untouched for a day
    is nobody's (another cycle's run may be copying right now, so fresh ones stay)."""
    now = time.time()
    for partial in raw_dir.glob(".incoming.*.tmp"):
        try:
            if now - partial.stat().st_mtime > older_than_s:
                partial.unlink()
        except FileNotFoundError:  # its run finished or swept it meanwhile
            pass


def _keep(tmp: Path, digest: str, size: int, suffix: str, original: str, raw_dir: Path) -> ArchivedInput:
    """Move the copy `tmp` into place as `<sha256><suffix>` unless that content is already stored; log the receipt."""
    stored = raw_dir / f"{digest}{suffix}"
    if stored.exists():
        tmp.unlink()
    else:
        os.chmod(tmp, 0o644)
        os.replace(tmp, stored)
    entry = {"received_at": datetime.now(UTC).isoformat(timespec="seconds"), "sha256": digest,
             "size": size, "original": original}
    with open(raw_dir / "index.jsonl", "a", encoding="utf-8") as log:
        log.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return ArchivedInput(sha256=digest, size=size, original=original, stored=stored)


def receipts(original: str, out: Path, suffix: str) -> list[tuple[ArchivedInput, str]]:
    """Every receipt of `original` under `<out>/raw/` whose stored `<sha256><suffix>` still exists, oldest first, with
    when it was received: the snapshots of one source, in the order they were fetched."""
    index = Path(out) / "raw" / "index.jsonl"
    if not index.is_file():
        return []
    found = []
    # The index is appended in the order inputs are received.
    for line in index.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
            if entry.get("original") != original:
                continue
            stored = index.parent / f"{entry['sha256']}{suffix}"
            if stored.is_file():
                found.append((ArchivedInput(sha256=entry["sha256"], size=int(entry["size"]), original=original,
                                            stored=stored), str(entry.get("received_at", ""))))
        except (json.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
            continue
    return found
