"""Work handed to forked processes that inherit what it reads: the second half of the validation, report.docx and
ranking.xlsx beside the main process, the scorecards' pool.

A forked process starts with the parent's memory as it is (the frame, the GX context, the document, a renderer set
up once), so nothing is pickled on the way there; only a job's return value comes back. Jobs are found in a module
dict the parent fills before the workers fork, under their pool's own key and their name: pools may be open side by
side, from several threads (a province's units run in one process), with the same job names. The cycle lock is not
inherited (`antt.store.locks`). Linux only (fork), as the rest of the run's parallel work.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import itertools
import multiprocessing
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Done:
    """A job's return value and its seconds: with a pool, from the pool's start to the job's end (one clock for
    all the pool's jobs); run in this process, its own."""

    value: Any
    seconds: float


@contextmanager
def forked(jobs: Mapping[str, Callable[[], Any]], processes: int,
           release: bool = False) -> Iterator[Callable[[str], Done]]:
    """Run `jobs` (name → function), in the order given, in a pool of `processes` forked processes; the block gets
    `wait(name)`, which returns that job's `Done` once it is. With no process (0), each job runs in this one when
    waited for. `release`: a worker gives back the memory a job freed once it ends (`release_memory`), rather than
    hold the job's peak for the rest of the run."""
    jobs = dict(jobs)
    if processes < 1:
        def run_here(name: str) -> Done:
            start = time.monotonic()
            value = jobs.pop(name)()
            return Done(value, round(time.monotonic() - start, 3))

        yield run_here
        return
    pool_key = next(_POOLS)
    _JOBS.update({(pool_key, name): job for name, job in jobs.items()})
    release_memory()  # the workers would each inherit (and count) what this process freed
    try:
        with ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("fork")) as pool:
            start = time.monotonic()
            submitted = {name: pool.submit(_run, (pool_key, name), release) for name in jobs}  # workers fork here

            def wait(name: str) -> Done:
                value, ended = submitted[name].result()
                return Done(value, round(ended - start, 3))

            try:
                yield wait
            finally:
                for future in submitted.values():
                    future.cancel()
    finally:
        for name in jobs:
            del _JOBS[pool_key, name]


_JOBS: dict[tuple[int, str], Callable[[], Any]] = {}  # what the workers run: set by the parent before they fork
_POOLS = itertools.count()


def _run(key: tuple[int, str], release: bool) -> tuple[Any, float]:
    """A job in a forked worker: its value, and when it ended (time.monotonic(), one clock for all processes)."""
    value = _JOBS[key]()
    if release:
        release_memory()
    return value, time.monotonic()


def release_memory() -> None:
    """Collect what is garbage now and give the heap's free memory back to the system (glibc keeps what a process
    freed for its next allocations: a forked worker would hold its largest job's peak for the rest of the run, and
    forked workers would inherit this process's free heap). Without glibc: the collection only."""
    gc.collect()
    try:
        _libc().malloc_trim(0)
    except (OSError, AttributeError):
        pass


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
