"""The `antt` command (`python -m antt` and the installed script): `antt.cli.main`, then a quick exit.

A run leaves a large heap (pandas, Prefect, Great Expectations) that the interpreter would free object by object
after the exit handlers, about a second of a district run's six. `entry` registers one exit handler before
anything else is imported, so it runs last, after every other one (Prefect's log and event workers drained, the
temporary server stopped, temporary folders removed); it flushes the logs and the console and ends the process with
the command's exit code, skipping that teardown. Every file a run writes is complete and closed before `main`
returns. Calling `antt.cli.main()` in a process of one's own exits as usual.

The command's process also collects its oldest generation of objects less often (`FULL_COLLECTION_EVERY`): each
full collection walks every object alive, and Prefect's, Great Expectations' and pandas' imports alone are a
million of them, so with Python's default a national run spent over two seconds in twenty-odd full collections
(a garbage collector's callback counted them). Young objects are collected as usual; the processes a run forks
inherit the setting. `antt run` also freezes that heap before its flow (`pipeline.frozen_heap`).
"""

import atexit
import gc
import os
import sys

FULL_COLLECTION_EVERY = 100  # middle-generation collections before a full one; Python's default is 10

_exit_code = [0]


def _quick_exit() -> None:
    if "logging" in sys.modules:
        sys.modules["logging"].shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed or broken pipe: nothing more can be said on it
            pass
    os._exit(_exit_code[0])


def entry() -> None:
    atexit.register(_quick_exit)  # first registered, last run
    young, middle, _full = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)
    from antt.cli import main

    try:
        main()
    except SystemExit as exc:
        _exit_code[0] = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        raise
    except BaseException:
        _exit_code[0] = 1
        raise


if __name__ == "__main__":  # guarded: worker processes (spawn) import this module without running the CLI
    entry()
