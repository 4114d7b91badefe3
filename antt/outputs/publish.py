"""Atomic publication of a cycle's output folder: everything is written into a staging folder, then swapped in.

A run that dies leaves the previous `<out>/<cycle>/` intact. On Linux the swap is one atomic exchange of the two
folders, so a reader (or a kill) sees the old folder or the new one, never neither; elsewhere it is two renames, and
a run that died between them is repaired by the next one. Leftover staging folders are removed by the next run
of the same cycle (which holds the cycle's lock, `antt.store.locks`).
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from antt.store.faults import checkpoint

_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2
# The process's umask, read once at import (setting it is the only way to read it): a file written through a
# temporary one gets the mode an ordinary write would give, not mkstemp's owner-only 0600.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write a file through a temporary sibling and a rename, with the mode a plain write would give it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)
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
    checkpoint("publish:before_swap")
    if final.exists() and _exchange(staging, final):
        previous = staging  # the folder that was published, now under the staging name
    else:
        previous = final.with_name(f".{final.name}.previous")
        if final.exists():
            os.replace(final, previous)
        os.replace(staging, final)
    checkpoint("publish:after_swap")
    shutil.rmtree(previous, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step (Linux `renameat2` with RENAME_EXCHANGE); False where the system
    or the file system cannot."""
    renameat2 = getattr(_LIBC, "renameat2", None)  # glibc 2.28+
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS):
        return False
    raise OSError(err, os.strerror(err), str(a), None, str(b))
