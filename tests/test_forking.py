"""`antt.forking.forked`: the one way a run hands work to forked processes (validation's second half, report.docx and
ranking.xlsx, the scorecards). A province runs its units in threads of one process, so pools with the same job
names may be open at once."""

from __future__ import annotations

import os
import threading

from antt.forking import forked


def test_pools_open_at_once_in_two_threads_run_their_own_jobs_of_the_same_name():
    both_open = threading.Barrier(2, timeout=60)
    got: dict[int, tuple] = {}

    def unit(i: int) -> None:
        with forked({"report_docx": lambda: (i, os.getpid()), "write_workbook": lambda: -i}, 1) as wait:
            both_open.wait()  # each pool's jobs registered and its worker forked before either reads a result
            got[i] = (wait("report_docx").value, wait("write_workbook").value)

    threads = [threading.Thread(target=unit, args=(i,)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert {i: (value, workbook) for i, ((value, _pid), workbook) in got.items()} == {1: (1, -1), 2: (2, -2)}
    assert all(pid != os.getpid() for (_, pid), _ in got.values())  # run in forked workers


def test_with_no_process_each_job_runs_here_when_waited_for():
    ran = []
    with forked({"a": lambda: ran.append("a") or 1, "b": lambda: ran.append("b") or 2}, 0) as wait:
        assert ran == [] and wait("b").value == 2 and ran == ["b"]
        assert wait("a").value == 1 and ran == ["b", "a"]
