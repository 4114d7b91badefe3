"""Atomic publication of a cycle's output folder: everything is written into a staging folder, then swapped in.

A run that dies leaves the previous `<out>/<cycle>/` intact; a run that died between the two renames is
repaired by the next one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write a file through a temporary sibling and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def recover(final: Path) -> None:
    """Restore the last published folder if a previous run died between moving it aside and swapping in."""
    aside = final.with_name(f".{final.name}.previous")
    if aside.exists() and not final.exists():
        os.replace(aside, final)
    elif aside.exists():
        shutil.rmtree(aside)
    for stale in final.parent.glob(f".{final.name}.staging-*"):
        shutil.rmtree(stale, ignore_errors=True)


@contextmanager
def staged_folder(final: Path) -> Iterator[Path]:
    """Yield a fresh staging folder; on success it replaces `final` as a whole, on failure it is removed."""
    final.parent.mkdir(parents=True, exist_ok=True)
    recover(final)
    staging = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.staging-"))
    os.chmod(staging, 0o755)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    aside = final.with_name(f".{final.name}.previous")
    if final.exists():
        os.replace(final, aside)
    os.replace(staging, final)
    shutil.rmtree(aside, ignore_errors=True)
