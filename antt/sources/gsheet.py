"""A response sheet read live from Google Sheets with gspread: `gsheet:<key or URL>[#worksheet title | #gid=N]`.

The fetched values become the CSV that "Download as CSV" would give, and that CSV is archived before anything parses
it. A failed or partial fetch archives nothing, so the last good snapshot under `<out>/raw/` stays the latest.
"""

from __future__ import annotations

import csv
import io
import os
import re
import time
import unicodedata
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from pathlib import Path

import gspread
import requests
from google.auth.exceptions import RefreshError, TransportError
from gspread.exceptions import APIError, NoValidUrlKeyFound
from gspread.urls import SPREADSHEETS_API_V4_BASE_URL
from gspread.utils import DateTimeOption, ValueRenderOption, extract_id_from_url, rowcol_to_a1
from tenacity import Retrying, retry_if_exception, stop_after_attempt, stop_any

from antt.errors import InputError
from antt.i18n import _
from antt.sources import google
from antt.sources.archive import ArchivedInput, archive_bytes, receipts
from antt.sources.quota import google_api_slot
from antt.sources.raw import RawTable

SCOPES = ("https://www.googleapis.com/auth/spreadsheets.readonly",)
DEFAULT_ENDPOINT = SPREADSHEETS_API_V4_BASE_URL
BATCH_ROWS = 2000
SUFFIX = ".csv"
_KEY = re.compile(r"[A-Za-z0-9_-]+")
_GID = re.compile(r"gid=(\d+)")


class WorksheetMissing(InputError):
    """The spreadsheet has no worksheet of the title or gid asked for (its message lists those it has)."""


@dataclass(frozen=True)
class SheetRef:
    """Which worksheet to read: the spreadsheet key, and a worksheet title or gid (None: the first worksheet)."""

    key: str
    title: str | None = None
    gid: int | None = None

    @property
    def spec(self) -> str:
        """The canonical spec: a URL and its bare key name the same sheet, and share one snapshot history."""
        fragment = f"#gid={self.gid}" if self.gid is not None else f"#{self.title}" if self.title else ""
        return f"gsheet:{self.key}{fragment}"


def parse_spec(spec: str) -> SheetRef:
    """`gsheet:KEY`, `gsheet:https://docs.google.com/spreadsheets/d/KEY/edit#gid=0`, `gsheet:KEY#Form Responses 1`."""
    if not spec.startswith("gsheet:"):
        raise InputError(_("{spec}: not a Google Sheets source; write gsheet:<key or URL>[#worksheet]")
                         .format(spec=spec))
    target, _hash, fragment = spec.removeprefix("gsheet:").strip().partition("#")
    target = target.strip()
    if target.startswith(("http://", "https://")):
        try:
            key = extract_id_from_url(target)
        except NoValidUrlKeyFound:
            raise InputError(_("{spec}: not a Google Sheets URL; copy it from the address bar of the open sheet")
                             .format(spec=spec)) from None
    elif _KEY.fullmatch(target):
        key = target
    else:
        raise InputError(_("{spec}: not a Google Sheets key or URL; write gsheet:<key or URL>[#worksheet]")
                         .format(spec=spec))
    # A URL copied from the browser ends in #gid=N: that names the open tab.
    gid = _GID.fullmatch(fragment.strip())
    if gid:
        return SheetRef(key, gid=int(gid.group(1)))
    return SheetRef(key, title=fragment or None)


def preflight(spec: str) -> SheetRef:
    """Parse the spec and load the credentials, without a request: the cheap check made before a run starts."""
    ref = parse_spec(spec)
    google.credentials(SCOPES)
    return ref


def fetch_sheet(spec: str, out: Path, *, timeout: float = 30.0, attempts: int = 5, max_delay: float = 60.0,
                backoff: float = 1.0, batch_rows: int = BATCH_ROWS, option: str = "--source"
                ) -> tuple[RawTable, ArchivedInput]:
    """Read one worksheet, archive it as CSV under `<out>/raw/`, and return it as the RawTable a CSV export gives.

    Each request waits at most `timeout` seconds; 429, 5xx, timeouts and dropped connections are retried with
    exponential backoff and jitter (`backoff` seconds first), honouring Retry-After, for at most `attempts` tries
    per request and `max_delay` seconds for the whole fetch. Rows are read `batch_rows` at a time. Any failure is
    an InputError naming the sheet (and the last good snapshot, if any, to pass as `option`), and archives nothing.
    """
    ref = parse_spec(spec)
    label = ref.spec
    credentials, token_uri = google.credentials(SCOPES)
    endpoint = os.environ.get("ANTT_SHEETS_ENDPOINT", "").strip().rstrip("/") or DEFAULT_ENDPOINT
    retrying = Retrying(retry=retry_if_exception(_transient), wait=google.retry_wait(backoff, _retry_after),
                        stop=stop_any(stop_after_attempt(attempts), google.deadline(time.monotonic() + max_delay)),
                        reraise=True)
    client = gspread.Client(credentials, http_client=partial(_SheetsHTTP, endpoint=endpoint, retrying=retrying))
    client.set_timeout(timeout)
    try:
        rows, title = _read_values(client, ref, batch_rows)
    except (APIError, PermissionError, gspread.SpreadsheetNotFound, gspread.WorksheetNotFound,
            requests.RequestException, RefreshError, TransportError, KeyError) as exc:
        tries = retrying.statistics.get("attempt_number", 1)
        reason = _explain(exc, credentials.service_account_email, token_uri, endpoint, timeout, tries)
        error = WorksheetMissing if isinstance(exc, gspread.WorksheetNotFound) else InputError
        raise error(f"{label}: {reason}{google.snapshot_hint(label, SUFFIX, out, option)}") from None
    finally:
        client.http_client.session.close()
    rows = _as_export(rows)
    if not rows or not any(rows[0]):
        raise InputError(_("{sheet}: the worksheet is empty (no header row)").format(sheet=label)
                         + google.snapshot_hint(label, SUFFIX, out, option))
    archived = archive_bytes(_csv_bytes(rows), SUFFIX, original=label, out=out)
    return RawTable.from_rows(rows, source=label, read_as={"format": "Google Sheets", "worksheet": title}), archived


def last_snapshot(spec: str, out: Path) -> ArchivedInput | None:
    """The newest archived snapshot of this sheet under `<out>/raw/` (by `raw/index.jsonl`), or None."""
    found = receipts(parse_spec(spec).spec, out, SUFFIX)
    return found[-1][0] if found else None


class _SheetsHTTP(gspread.HTTPClient):
    """gspread's HTTP client with the Sheets API root moved to `endpoint`, every request retried by `retrying`, and
    every attempt inside a slot of the `google-api` limit (antt.sources.quota)."""

    def __init__(self, auth, session=None, *, endpoint: str, retrying: Retrying) -> None:
        super().__init__(auth, session)
        self.endpoint = endpoint
        self.retrying = retrying

    def request(self, method: str, endpoint: str, *args, **kwargs) -> requests.Response:
        if endpoint.startswith(SPREADSHEETS_API_V4_BASE_URL):
            endpoint = self.endpoint + endpoint.removeprefix(SPREADSHEETS_API_V4_BASE_URL)
        return self.retrying(self._attempt, method, endpoint, *args, **kwargs)

    def _attempt(self, *args, **kwargs) -> requests.Response:
        with google_api_slot():  # each attempt holds a slot of the shared quota; waits between attempts do not
            return super().request(*args, **kwargs)


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, APIError):
        status = exc.response.status_code
        return status in (HTTPStatus.REQUEST_TIMEOUT, HTTPStatus.TOO_MANY_REQUESTS) or status >= 500
    return isinstance(exc, (requests.Timeout, requests.ConnectionError))


def _retry_after(exc: BaseException | None) -> float | None:
    """Seconds the server asked us to wait, if it did."""
    return google.retry_after_seconds(exc.response.headers.get("Retry-After")) if isinstance(exc, APIError) else None


def _read_values(client: gspread.Client, ref: SheetRef, batch_rows: int) -> tuple[list[list], str]:
    """Every row of the worksheet, `batch_rows` rows per request, each batch padded to its full height; and the
    worksheet's title."""
    book = client.open_by_key(ref.key)
    worksheet = _worksheet(book, ref)
    total, width = worksheet.row_count, max(worksheet.col_count, 1)
    rows: list[list] = []
    for first in range(1, total + 1, batch_rows):
        last = min(first + batch_rows - 1, total)
        values = worksheet.get(f"A{first}:{rowcol_to_a1(last, width)}",
                               value_render_option=ValueRenderOption.unformatted,
                               date_time_render_option=DateTimeOption.formatted_string, pad_values=True)
        # The API leaves out a range's trailing empty rows; later batches may still hold data.
        rows.extend(values + [[] for _row in range(last - first + 1 - len(values))])
    return rows, worksheet.title


def _worksheet(book: gspread.Spreadsheet, ref: SheetRef) -> gspread.Worksheet:
    sheets = [s["properties"] for s in book.fetch_sheet_metadata()["sheets"]]
    if ref.gid is not None:
        found = [p for p in sheets if p.get("sheetId") == ref.gid]
    elif ref.title is not None:
        found = [p for p in sheets if _same_title(p.get("title", ""), ref.title)]
    else:
        found = sheets[:1]
    if not found:
        wanted = f"gid={ref.gid}" if ref.gid is not None else repr(ref.title)
        titles = ", ".join(repr(p.get("title", "")) for p in sheets) or _("none")
        raise gspread.WorksheetNotFound(_("no worksheet {wanted} in this spreadsheet (it has {titles})")
                                        .format(wanted=wanted, titles=titles))
    return gspread.Worksheet(book, found[0], book.id, book.client)


def _same_title(a: str, b: str) -> bool:
    return unicodedata.normalize("NFC", a).strip() == unicodedata.normalize("NFC", b).strip()


def _as_export(values: list[list]) -> list[list[str]]:
    """Cells as CSV text, every row as wide as the widest, trailing empty rows dropped, as "Download as CSV" does."""
    rows = [[_cell_text(v) for v in row] for row in values]
    while rows and not any(rows[-1]):
        rows.pop()
    width = max((max((i + 1 for i, c in enumerate(r) if c), default=0) for r in rows), default=0)
    return [(r + [""] * width)[:width] for r in rows]


def _cell_text(value: object) -> str:
    """An unformatted cell as a CSV export shows it: whole numbers without '.0', booleans TRUE/FALSE, text as is
    (so "0101" stays "0101"); dates arrive already as their formatted string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _csv_bytes(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _explain(exc: BaseException, account: str, token_uri: str, endpoint: str, timeout: float, tries: int) -> str:
    """The one-line reason for a failed fetch, with what to do about it."""
    if isinstance(exc, gspread.WorksheetNotFound):
        return str(exc)
    # gspread re-raises 403 and 404 from open_by_key as other exceptions, caused by the APIError.
    api = next((e for e in (exc, exc.__cause__) if isinstance(e, APIError)), None)
    if api is not None:
        status = api.response.status_code
        # gspread sets code -1 when the error body is not Google's JSON; then only the HTTP status is known.
        reason = api.error.get("status") if api.code == status else google.status_name(status)
        answered = _("Google Sheets answered {status} {reason}: {message}").format(
            status=status, reason=reason, message=google.one_line(api.error.get("message")))
        if status == HTTPStatus.FORBIDDEN:
            return _("{answered}; share the sheet with {account} (Viewer is enough)").format(answered=answered,
                                                                                          account=account)
        if status == HTTPStatus.NOT_FOUND:
            return _("{answered}; no spreadsheet has this key: copy the URL from the address bar of the open sheet") \
                .format(answered=answered)
        if status == HTTPStatus.UNAUTHORIZED:
            return _("{answered}; the service-account key was refused: check ANTT_GOOGLE_CREDENTIALS") \
                .format(answered=answered)
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            return _("{answered} (after {tries} attempts); the read quota is used up: wait a minute and run again") \
                .format(answered=answered, tries=tries)
        if status >= 500:
            return _("{answered} (after {tries} attempts); Google Sheets is failing: run again later") \
                .format(answered=answered, tries=tries)
        return answered
    if isinstance(exc, requests.exceptions.JSONDecodeError):  # a proxy page, a captive portal, a truncated body
        return _("Google Sheets sent an answer that is not JSON; check ANTT_SHEETS_ENDPOINT ({endpoint})") \
            .format(endpoint=endpoint)
    if isinstance(exc, requests.Timeout):
        return _("Google Sheets did not answer within {timeout} s (after {tries} attempts); check the network or "
                 "ANTT_SHEETS_ENDPOINT ({endpoint}) and run again").format(timeout=f"{timeout:g}", tries=tries,
                                                                          endpoint=endpoint)
    if isinstance(exc, requests.ConnectionError):
        return _("cannot connect to {endpoint} (after {tries} attempts); check the network or ANTT_SHEETS_ENDPOINT "
                 "and run again").format(endpoint=endpoint, tries=tries)
    if (token := google.token_failure(exc, token_uri, account)) is not None:
        return token
    return _("Google Sheets sent an unexpected answer (no {what}); check ANTT_SHEETS_ENDPOINT ({endpoint})").format(
        what=exc, endpoint=endpoint)
