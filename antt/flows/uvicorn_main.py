"""`python -m antt.flows.uvicorn_main ARGS`: uvicorn's own command line (`python -m uvicorn ARGS`, how Prefect starts
its temporary server), in a process that runs full garbage collections as seldom as the CLI's (`antt.__main__`).
Prefect's server imports about a million objects as it boots, and with Python's default it spent half a second of
its three seconds walking them again and again."""

import gc

from antt.__main__ import FULL_COLLECTION_EVERY

if __name__ == "__main__":
    young, middle, _full = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)
    import uvicorn

    uvicorn.main()
