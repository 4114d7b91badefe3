"""The `antt` command (`python -m antt` and the installed script): `antt.cli.main`, then a quick exit.

A run leaves a large heap (pandas, Prefect, Great Expectations) that the interpreter would free object by object
after the exit handlers, about a second of a district run's eight. `entry` registers one exit handler before
anything else is imported, so it runs last, after every other one (Prefect's log and event workers drained, the
temporary server stopped, temporary folders removed); it flushes the logs and the console and ends the process with
the command's exit code, skipping that teardown. Every file a run writes is complete and closed before `main`
returns. Calling `antt.cli.main()` in a process of one's own exits as usual.
"""

import atexit
import os
import sys

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
