"""A test hook: stop the process dead at a named point of a run, to show that a kill anywhere leaves the outputs,
the raw archive and the history database sound (tests/test_crash_safety.py).

`ANTT_KILL_AT=<point>` makes `checkpoint(<point>)` send SIGKILL to its own process: no cleanup, no `finally`, as when
the machine's OOM killer or an operator's `kill -9` ends a run. The points:

- `archived`: the input is in `<out>/raw/`, nothing has parsed it yet;
- `after:<stage>`: a stage timed by `antt.pipeline.stage` has finished (read, normalize, validate, score, rank,
  write_files, render_report, render_scorecards, render_data_quality, finish_workbook, record_history);
- `staged:results.json`: between two files written into the staging folder;
- `publish:before_swap`, `publish:after_swap`: the staging folder is complete / has replaced `<out>/<cycle>/`;
- `history:before_commit`: the cycle's rows are replaced inside the transaction, not yet committed.

Unset, as everywhere but in that test, a checkpoint is one environment lookup.
"""

from __future__ import annotations

import os
import signal

KILL_ENV = "ANTT_KILL_AT"


def checkpoint(name: str) -> None:
    if os.environ.get(KILL_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
