"""Google's quotas are per project and per minute, shared by every run that reads from Google at once: forty offices
fetching their sheets together would exhaust them together. Every request batch to a Google API (Sheets through
gspread, Forms through `gform._get`) therefore holds one slot of a Prefect global concurrency limit, `google-api`,
for as long as it is in flight, whichever worker, process or thread sends it. `antt deploy` creates the limit
(`--google-api-slots`).

    with google_api_slot():
        response = session.get(...)

Without a Prefect server (a laptop run: PREFECT_API_URL unset) there is nothing to share a limit with, and requests
go straight out. On a server where the limit does not exist yet, Prefect logs a warning and lets the request go.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

GOOGLE_API_LIMIT = "google-api"
DEFAULT_SLOTS = 2
LEASE_S = 60  # a holder that dies mid-request gives its slot back within a minute


def server_url() -> str | None:
    """The Prefect API this process talks to, or None when it runs on its own (an ephemeral server or none)."""
    from prefect.settings import get_current_settings

    return get_current_settings().api.url or None


@contextmanager
def google_api_slot() -> Iterator[None]:
    """Hold one slot of the `google-api` limit around one request batch (no limit without a Prefect server)."""
    if server_url() is None:
        yield
        return
    from prefect.concurrency.sync import concurrency

    with concurrency(GOOGLE_API_LIMIT, occupy=1, lease_duration=LEASE_S):
        yield


def ensure_google_api_limit(slots: int = DEFAULT_SLOTS) -> None:
    """Create the `google-api` limit with `slots` slots on the server in PREFECT_API_URL, or set its size."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(GOOGLE_API_LIMIT, slots)
