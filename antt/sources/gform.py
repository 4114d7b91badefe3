"""A Google Form read through the Forms API v1: `gform:<form id, or the form's edit or responder URL>`.

`forms.get` gives the items, `forms.responses.list` the responses (`pageSize` 5000, `pageToken`; when a snapshot of
the form is archived already, only what was submitted since, with `filter=timestamp >= …`). What the API answered is
archived as JSON before anything parses it: the form, every page as received, the filter, and the earlier responses
the filter let us skip. A failed fetch archives nothing.

The snapshot then reads as the linked Sheet would show it (a `RawTable`), so every rule of docs/spec.md §4 applies
unchanged (§4b): the item titles are the headers, the timestamp is `lastSubmittedTime` in the office's zone, the sender
is `respondentEmail`, a checkbox answer's values are its options (joined as the Sheet joins them), a date is its ISO
date, and a response's row is 1 + its rank by `createTime`, ties broken by `responseId`.

The client is google-auth's `AuthorizedSession` (requests with the service account's token): two GET calls need no
generated client, and google-api-python-client's discovery layer would only add a dependency.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from pathlib import Path
from zoneinfo import ZoneInfo

import requests
from google.auth.exceptions import RefreshError, TransportError
from tenacity import Retrying, retry_if_exception, stop_after_attempt, stop_any

from antt.errors import InputError
from antt.i18n import _
from antt.sources import google
from antt.sources.archive import ArchivedInput, archive_bytes, receipts
from antt.sources.quota import google_api_slot
from antt.sources.raw import RawTable

SCOPES = ("https://www.googleapis.com/auth/forms.body.readonly",
          "https://www.googleapis.com/auth/forms.responses.readonly")
DEFAULT_ENDPOINT = "https://forms.googleapis.com/v1"
PAGE_SIZE = 5000
SUFFIX = ".json"
_ID = re.compile(r"[A-Za-z0-9_-]{10,}")
_URL_ID = re.compile(r"/forms/(?:u/\d+/)?d/(e/)?([A-Za-z0-9_-]+)")
_FRACTION = re.compile(r"(\.\d{6})\d+")


@dataclass(frozen=True)
class FormRef:
    form_id: str

    @property
    def spec(self) -> str:
        """The canonical spec: a URL and the bare id name the same form, and share one snapshot history."""
        return f"gform:{self.form_id}"


def parse_spec(spec: str) -> FormRef:
    """`gform:ID`, `gform:https://docs.google.com/forms/d/ID/edit` or a responder URL `…/forms/d/ID/viewform`."""
    if not spec.startswith("gform:"):
        raise InputError(_("{spec}: not a Google Forms source; write gform:<form id or URL>").format(spec=spec))
    target = spec.removeprefix("gform:").strip()
    if target.startswith(("http://", "https://")):
        found = _URL_ID.search(target)
        if found and found.group(1):
            # A published link (…/forms/d/e/…/viewform) carries the responder id, which the API does not know.
            raise InputError(_("{spec}: this is the form's published link, which the Forms API cannot open; open the "
                               "form for editing and copy that URL (…/forms/d/<id>/edit)").format(spec=spec))
        if not found:
            raise InputError(_("{spec}: not a Google Forms URL; open the form for editing and copy the URL from the "
                               "address bar").format(spec=spec))
        return FormRef(found.group(2))
    if _ID.fullmatch(target):
        return FormRef(target)
    raise InputError(_("{spec}: not a Google Forms id or URL; write gform:<form id or URL>").format(spec=spec))


def preflight(spec: str) -> FormRef:
    """Parse the spec and load the credentials, without a request: the cheap check made before a run starts."""
    ref = parse_spec(spec)
    google.credentials(SCOPES)
    return ref


def snapshots(spec: str, out: Path) -> list[tuple[ArchivedInput, str]]:
    """Every archived snapshot of this form under `<out>/raw/`, oldest first, with when it was received."""
    return receipts(parse_spec(spec).spec, out, SUFFIX)


def fetch_form(spec: str, out: Path, *, timezone: str, headers: tuple[str, str], timeout: float = 30.0,
               attempts: int = 5, max_delay: float = 60.0, backoff: float = 1.0, page_size: int = PAGE_SIZE
               ) -> tuple[RawTable, ArchivedInput]:
    """Read the form and its responses, archive them as one JSON snapshot, and return what the linked Sheet shows.

    `headers` names the timestamp and e-mail columns. Each request waits at most `timeout` seconds; 429, 5xx,
    timeouts and dropped connections are retried with exponential backoff and jitter (`backoff` seconds first),
    honouring Retry-After, for at most `attempts` tries per request and `max_delay` seconds for the whole fetch.
    Any failure is an InputError naming the form (and its last good snapshot, if any), and archives nothing.
    """
    from google.auth.transport.requests import AuthorizedSession

    label = parse_spec(spec).spec
    form_id = label.removeprefix("gform:")
    credentials, token_uri = google.credentials(SCOPES)
    endpoint = os.environ.get("ANTT_FORMS_ENDPOINT", "").strip().rstrip("/") or DEFAULT_ENDPOINT
    earlier = _latest_responses(label, out)
    since = max((r.get("lastSubmittedTime", "") for r in earlier), default="")
    retrying = Retrying(retry=retry_if_exception(_transient), wait=google.retry_wait(backoff, _retry_after),
                        stop=stop_any(stop_after_attempt(attempts), google.deadline(time.monotonic() + max_delay)),
                        reraise=True)
    session = AuthorizedSession(credentials)
    query = {"pageSize": page_size} | ({"filter": f"timestamp >= {since}"} if since else {})
    try:
        form = retrying(_get, session, f"{endpoint}/forms/{form_id}", {}, timeout)
        pages = []
        while True:
            pages.append(retrying(_get, session, f"{endpoint}/forms/{form_id}/responses", query, timeout))
            token = pages[-1].get("nextPageToken")
            if not token:
                break
            query = query | {"pageToken": token}
    except (_ApiError, requests.RequestException, RefreshError, TransportError, ValueError, AttributeError) as exc:
        tries = retrying.statistics.get("attempt_number", 1)
        reason = _explain(exc, credentials.service_account_email, token_uri, endpoint, timeout, tries)
        raise InputError(f"{label}: {reason}{google.snapshot_hint(label, SUFFIX, out)}") from None
    finally:
        session.close()
    fetched = {r.get("responseId") for page in pages for r in page.get("responses", [])}
    snapshot = {"source": label, "form": form, "filter": query.get("filter"), "pages": pages,
                "earlier": [r for r in earlier if r.get("responseId") not in fetched]}
    archived = archive_bytes(_json_bytes(snapshot), SUFFIX, original=label, out=out)
    return read_snapshot(archived.stored, timezone=timezone, headers=headers), archived


def read_snapshot(path: Path, *, timezone: str, headers: tuple[str, str]) -> RawTable:
    """An archived Forms snapshot as the RawTable its linked Sheet would be (see the module's doc)."""
    form, responses = _load(path)
    label = form.get("source") or str(path)
    columns = list(_columns(form.get("form") or {}))
    known = {qid for qid, _title in columns}
    zone = ZoneInfo(timezone)
    rows = [[*headers, *(title for _qid, title in columns)]]
    ordered = sorted(responses, key=lambda r: (r.get("createTime", ""), r.get("responseId", "")))
    for response in ordered:
        answers = response.get("answers") or {}
        stray = sorted(set(answers) - known)
        if stray:
            raise InputError(_("{source}: response {response} answers question id {question}, which the form does "
                               "not have (was the form edited while it was read?); run again")
                             .format(source=label, response=response.get("responseId"), question=stray[0]))
        rows.append([_local_time(response.get("lastSubmittedTime"), zone, label), response.get("respondentEmail", ""),
                     *(_cell(answers.get(qid)) for qid, _title in columns)])
    return RawTable.from_rows(rows, source=label, keys=[str(r.get("responseId", "")) for r in ordered])


def responses_of(path: Path) -> list[dict]:
    """The responses an archived snapshot holds (the fetched pages and the earlier ones carried over)."""
    return _load(path)[1]


class _ApiError(Exception):
    """The Forms API answered with an HTTP error."""

    def __init__(self, response: requests.Response) -> None:
        super().__init__(response.status_code)
        self.response = response
        try:
            error = response.json().get("error") or {}
        except (ValueError, AttributeError):
            error = {}
        self.error = error if isinstance(error, dict) else {}


def _get(session, url: str, params: dict, timeout: float) -> dict:
    """One GET of the Forms API as a JSON object (an HTTP error raises _ApiError, a body that is not JSON
    ValueError), inside a slot of the `google-api` limit (antt.sources.quota)."""
    with google_api_slot():  # each attempt holds a slot of the shared quota; waits between attempts do not
        response = session.get(url, params=params, timeout=timeout)
    if response.status_code >= 400:
        raise _ApiError(response)
    data = response.json()
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, _ApiError):
        status = exc.response.status_code
        return status in (HTTPStatus.REQUEST_TIMEOUT, HTTPStatus.TOO_MANY_REQUESTS) or status >= 500
    return isinstance(exc, (requests.Timeout, requests.ConnectionError))


def _retry_after(exc: BaseException | None) -> float | None:
    return google.retry_after_seconds(exc.response.headers.get("Retry-After")) if isinstance(exc, _ApiError) else None


def _latest_responses(label: str, out: Path) -> list[dict]:
    """The responses of the newest archived snapshot of this form ([] if none is readable): what an incremental
    fetch starts from."""
    found = receipts(label, out, SUFFIX)
    if not found:
        return []
    try:
        return responses_of(found[-1][0].stored)
    except InputError:
        return []


def _load(path: Path) -> tuple[dict, list[dict]]:
    try:
        data = json.loads(Path(path).read_bytes())
        responses = {}
        for response in [*data.get("earlier", []), *(r for p in data["pages"] for r in p.get("responses", []))]:
            responses[response["responseId"]] = response
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise InputError(_("{path}: not a Google Forms snapshot archived by antt").format(path=path)) from None
    return data, list(responses.values())


def _columns(form: dict):
    """(question id, column title) per question, in the form's order, as the linked Sheet's columns: a grid's rows
    are one column each, titled "Item [row]"."""
    for item in form.get("items", []):
        title = item.get("title", "")
        question = (item.get("questionItem") or {}).get("question")
        if question:
            yield question["questionId"], title
        for row in (item.get("questionGroupItem") or {}).get("questions", []):
            yield row["questionId"], f"{title} [{(row.get('rowQuestion') or {}).get('title', '')}]"


def _cell(answer: dict | None) -> str:
    """An answer as the Sheet's cell: its text values (a checkbox's options, an "Other" text, an ISO date) joined
    by ", ", or the uploaded files' links."""
    if not answer:
        return ""
    texts = [a.get("value", "") for a in (answer.get("textAnswers") or {}).get("answers", [])]
    files = [f"https://drive.google.com/open?id={f.get('fileId', '')}"
             for f in (answer.get("fileUploadAnswers") or {}).get("answers", [])]
    return ", ".join(texts + files)


def _local_time(stamp: str | None, zone: ZoneInfo, label: str) -> str:
    """An RFC 3339 UTC time (up to nine fractional digits) as the Sheet's timestamp: dd/mm/yyyy HH:MM:SS, office
    time."""
    try:
        moment = datetime.fromisoformat(_FRACTION.sub(r"\1", stamp or "").replace("Z", "+00:00"))
    except ValueError:
        raise InputError(_("{source}: a response has no readable submission time ({value!r})")
                         .format(source=label, value=stamp)) from None
    return moment.astimezone(zone).strftime("%d/%m/%Y %H:%M:%S")


def _json_bytes(data: dict) -> bytes:
    return (json.dumps(data, ensure_ascii=False, sort_keys=True, indent=1) + "\n").encode("utf-8")


def _explain(exc: BaseException, account: str, token_uri: str, endpoint: str, timeout: float, tries: int) -> str:
    """The one-line reason for a failed fetch, with what to do about it."""
    if isinstance(exc, _ApiError):
        status = exc.response.status_code
        error = exc.error
        answered = _("Google Forms answered {status} {reason}: {message}").format(
            status=status, reason=error.get("status") or google.status_name(status),
            message=google.one_line(error.get("message")))
        reasons = {d.get("reason") for d in error.get("details", []) if isinstance(d, dict)}
        if status == HTTPStatus.FORBIDDEN and ("ACCESS_TOKEN_SCOPE_INSUFFICIENT" in reasons
                                               or "scope" in str(error.get("message", "")).lower()):
            return _("{answered}; the service account's token lacks the read-only Forms scopes ({scopes}): allow "
                     "them for {account}").format(answered=answered, scopes=", ".join(SCOPES), account=account)
        if status == HTTPStatus.FORBIDDEN and "SERVICE_DISABLED" in reasons:
            return _("{answered}; enable the Google Forms API in the service account's Cloud project") \
                .format(answered=answered)
        if status == HTTPStatus.FORBIDDEN:
            return _("{answered}; share the form with {account} (Share → add it as an editor)").format(
                answered=answered, account=account)
        if status == HTTPStatus.NOT_FOUND:
            return _("{answered}; no form has this id: open the form for editing and copy its URL from the address "
                     "bar").format(answered=answered)
        if status == HTTPStatus.UNAUTHORIZED:
            return _("{answered}; the service-account key was refused: check ANTT_GOOGLE_CREDENTIALS") \
                .format(answered=answered)
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            return _("{answered} (after {tries} attempts); the read quota is used up: wait a minute and run again") \
                .format(answered=answered, tries=tries)
        if status >= 500:
            return _("{answered} (after {tries} attempts); Google Forms is failing: run again later") \
                .format(answered=answered, tries=tries)
        return answered
    if isinstance(exc, requests.Timeout):
        return _("Google Forms did not answer within {timeout} s (after {tries} attempts); check the network or "
                 "ANTT_FORMS_ENDPOINT ({endpoint}) and run again").format(timeout=f"{timeout:g}", tries=tries,
                                                                         endpoint=endpoint)
    if isinstance(exc, requests.ConnectionError):
        return _("cannot connect to {endpoint} (after {tries} attempts); check the network or ANTT_FORMS_ENDPOINT "
                 "and run again").format(endpoint=endpoint, tries=tries)
    if (token := google.token_failure(exc, token_uri, account)) is not None:
        return token
    # a page cut short, a proxy's HTML page, an answer of the wrong shape
    return _("Google Forms sent a truncated or malformed answer; run again (check ANTT_FORMS_ENDPOINT: {endpoint})") \
        .format(endpoint=endpoint)
