"""One job at a time per cycle and output folder: an exclusive `flock` on `<out>/.locks/<cycle>.lock`, held from
a job's first write to its last by `antt run` (raw archive, `<out>/<cycle>/`, history), `antt report` (which
re-renders `<out>/<cycle>/`) and `antt remind` (whose sent-mail log keeps a school from being reminded twice a day).

The kernel releases a flock when its holder dies, however it dies: a killed run never leaves a stale lock behind,
as a pid file would. A flock belongs to the open file, which a forked process shares: the processes a run forks
(validation, report.docx, the scorecard pool) close their copy as they start, so the lock goes with the run alone.
Lock files are never deleted (unlinking a locked file would let two processes lock two different files). Runs of
different cycles may share an output folder: the raw archive is content-addressed and written by rename, and the
history database replaces one cycle's rows per transaction.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from antt.errors import AnttError
from antt.i18n import _

LOCKS_DIR = ".locks"


class Busy(AnttError):
    """Another process holds the cycle's lock in the same output folder."""


@contextmanager
def cycle_lock(out: Path | str, cycle_id: str, job: str = "run") -> Iterator[None]:
    """Hold the cycle's lock in `out` while the block runs; when another process holds it, raise Busy at once,
    naming that process and its job ("run", "report" or "reminder round")."""
    path = Path(out) / LOCKS_DIR / f"{cycle_id}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by child processes (close-on-exec)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(_busy_message(cycle_id, out, os.pread(fd, 4096, 0))) from None
        holder = {"pid": os.getpid(), "job": job, "since": datetime.now().astimezone().isoformat()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        _HELD.add(fd)
        yield
    finally:
        _HELD.discard(fd)
        os.close(fd)  # releases the lock


_HELD: set[int] = set()  # the descriptors of the locks this process holds


def _close_held_in_child() -> None:
    """In a forked child: close its copies of the parent's lock descriptors, which would otherwise keep a killed
    run's lock for as long as the child lives."""
    for fd in _HELD:
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD.clear()


os.register_at_fork(after_in_child=_close_held_in_child)


def ensure_free(out: Path | str, cycle_id: str) -> None:
    """Raise Busy now if another process holds the cycle's lock, holding nothing and writing nothing. A run checks
    this before it archives its registry and corrections, so a run refused for a busy cycle leaves the archive as
    it was; it takes the lock itself when its flow starts."""
    path = Path(out) / LOCKS_DIR / f"{cycle_id}.lock"
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # refused while a holder has it exclusively
        except BlockingIOError:
            raise Busy(_busy_message(cycle_id, out, os.pread(fd, 4096, 0))) from None
    finally:
        os.close(fd)  # releases the shared lock


def _job(job: str) -> str:
    """A lock holder's job as the message names it (the lock file records the job's id, in no language)."""
    return {"run": _("a run"), "report": _("a report"), "reminder round": _("a reminder round")}.get(
        job, _("another job"))


def _busy_message(cycle_id: str, out: Path | str, recorded: bytes) -> str:
    try:  # the holder writes who it is just after taking the lock: it may not have yet
        holder = json.loads(recorded)
        since = datetime.fromisoformat(holder["since"])
        when = since.strftime("%H:%M" if since.date() == datetime.now().astimezone().date() else "%Y-%m-%d %H:%M")
        return _("{job} of cycle {cycle} is already under way in {out} (pid {pid}, since {since}); wait for it to "
                 "finish, then try again").format(job=_job(holder["job"]), cycle=cycle_id, out=out,
                                                  pid=holder["pid"], since=when)
    except (ValueError, KeyError, TypeError):
        return _("{job} of cycle {cycle} is already under way in {out}; wait for it to finish, then try again") \
            .format(job=_job(""), cycle=cycle_id, out=out)
