"""What the Google sources (Sheets, Forms) share: the service-account key, the retry policy's waits, one-line
reasons, and the newest archived snapshot of a source."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from pathlib import Path

from google.auth.exceptions import RefreshError, TransportError
from tenacity import wait_exponential_jitter

from antt.errors import InputError
from antt.i18n import _
from antt.sources.archive import receipts


def credentials(scopes: tuple[str, ...]):
    """Service-account credentials with `scopes`, and their token endpoint: the key file's `token_uri`."""
    from google.oauth2.service_account import Credentials

    info, where = _service_account_info()
    try:
        return Credentials.from_service_account_info(info, scopes=list(scopes)), info["token_uri"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(_("{where}: not a usable service-account key ({reason})").format(where=where, reason=exc)) \
            from None


def _service_account_info() -> tuple[dict, str]:
    path = os.environ.get("ANTT_GOOGLE_CREDENTIALS", "").strip()
    if path:
        where = f"ANTT_GOOGLE_CREDENTIALS={path}"
        try:
            text = Path(path).expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(_("{where}: cannot read the service-account key file ({reason})")
                             .format(where=where, reason=exc)) from None
        return _key_json(text, where), where
    block = os.environ.get("ANTT_GOOGLE_SECRET_BLOCK", "").strip()
    if block:
        where = _("Prefect Secret block {name!r}").format(name=block)
        # Imported here: only deployments that keep the key in Prefect pay for loading the block machinery.
        from prefect.blocks.system import Secret

        try:
            value = Secret.load(block).get()
        except Exception as exc:  # the block API fails in many ways (missing block, server down); all mean the same
            raise InputError(_("{where}: cannot be loaded ({reason})")
                             .format(where=where, reason=f"{type(exc).__name__}: {exc}")) from None
        return (value if isinstance(value, dict) else _key_json(str(value), where)), where
    raise InputError(_("no Google credentials: set ANTT_GOOGLE_CREDENTIALS to the service-account key file (or "
                       "ANTT_GOOGLE_SECRET_BLOCK to a Prefect Secret block holding it)"))


def _key_json(text: str, where: str) -> dict:
    try:
        info = json.loads(text)
    except json.JSONDecodeError:
        raise InputError(_("{where}: not a JSON service-account key file").format(where=where)) from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise InputError(_("{where}: not a service-account key (\"type\" must be \"service_account\")")
                         .format(where=where))
    return info


def retry_wait(backoff: float, retry_after):
    """A tenacity wait: what the server asked for (`retry_after(exception)` in seconds, or None), else exponential
    backoff with jitter starting at `backoff` seconds."""
    exponential = wait_exponential_jitter(multiplier=backoff, max=max(backoff, 32.0), jitter=backoff)

    def wait(state) -> float:
        after = retry_after(state.outcome.exception())
        return exponential(state) if after is None else after
    return wait


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header (seconds, or an HTTP date) as seconds to wait; None when absent or unreadable."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def deadline(at: float):
    """Stop before a wait would end past `at` (time.monotonic()): the whole fetch has one time budget."""
    def stop(state) -> bool:
        return time.monotonic() + state.upcoming_sleep >= at
    return stop


def status_name(status: int) -> str:
    try:
        return HTTPStatus(status).name
    except ValueError:
        return "ERROR"


def one_line(text: object, limit: int = 200) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def snapshot_hint(original: str, suffix: str, out: Path, option: str = "--source") -> str:
    """What a failed fetch adds to its one line: the last good snapshot of this source, if one is archived, to pass
    as `option`."""
    found = receipts(original, out, suffix)
    if not found:
        return _("; no earlier snapshot of this source is archived")
    archived, received = found[-1]
    return _("; the last good snapshot is {path} (received {received}): pass it as {option} to use it").format(
        path=archived.stored, received=received, option=option)


def token_failure(exc: BaseException, token_uri: str, account: str) -> str | None:
    """The one line for a failure at the service account's token endpoint (both Google sources get their token the
    same way), or None when `exc` is not one."""
    if isinstance(exc, RefreshError):
        detail = one_line(exc.args[0] if exc.args else exc)
        return _("the token endpoint {uri} refused the service account {account} ({detail}); check the key in "
                 "ANTT_GOOGLE_CREDENTIALS").format(uri=token_uri, account=account, detail=detail)
    if isinstance(exc, TransportError):
        return _("cannot reach the token endpoint {uri} ({reason}); check the network").format(
            uri=token_uri, reason=one_line(exc))
    return None
