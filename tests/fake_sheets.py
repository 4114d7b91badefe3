"""A fake Google Sheets API v4 on 127.0.0.1 for tests: a real HTTP server speaking the real wire format.

It serves an OAuth token endpoint (JWT-bearer grant, signature checked), `spreadsheets.get`, `values.get` and
`values.batchGet` over worksheets given as lists of rows, injects faults on demand, records every request, and
counts how many it is answering at once (`most_at_once`: what a quota shared by several clients has to bound).

    with FakeSheets() as fake:
        fake.add_spreadsheet("KEY", {"Form Responses 1": [["Timestamp", "A1. Trường"], [DateCell(...), "MN01"]]})
        fake.fail(429, times=2, retry_after="1")
        key_file = fake.write_service_account(tmp_path / "sa.json")   # its token_uri points here
        ... ANTT_SHEETS_ENDPOINT=fake.endpoint ...
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

CLIENT_EMAIL = "antt-reader@antt-test.iam.gserviceaccount.com"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_AUDIENCE = "https://oauth2.googleapis.com/token"
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 502: "UNAVAILABLE", 503: "UNAVAILABLE"}
_MESSAGE = {403: "The caller does not have permission", 404: "Requested entity was not found.",
            429: "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute per user'",
            500: "Internal error encountered.", 503: "The service is currently unavailable."}


@dataclass(frozen=True)
class DateCell:
    """A date/time cell: Sheets holds a serial number and shows `text` (its number format applied)."""

    serial: float
    text: str


@dataclass
class Fault:
    """Answer matching requests with `status` (after `delay` seconds), `times` times (None: for ever), after letting
    the first `skip` matching requests through. `on`: "api" (every Sheets request), "metadata", "values", "token".
    `body` replaces Google's JSON error body (malformed JSON, a proxy page); a 200 fault with no body answers
    normally after the delay."""

    status: int = 500
    on: str = "api"
    times: int | None = None
    skip: int = 0
    delay: float = 0.0
    retry_after: str | None = None
    body: bytes | None = None


@dataclass
class Recorded:
    """One request as the server saw it: `kind` is token, metadata, values, batch or other."""

    method: str
    path: str
    kind: str
    query: dict[str, list[str]]
    authorization: str
    at: float
    status: int = 0
    claims: dict = field(default_factory=dict)


@dataclass
class _Worksheet:
    title: str
    sheet_id: int
    rows: list[list]
    row_count: int
    column_count: int


class FakeSheets:
    def __init__(self) -> None:
        self.spreadsheets: dict[str, list[_Worksheet]] = {}
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self.tokens: set[str] = set()
        self.at_once = 0  # requests received and not yet answered
        self.most_at_once = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._handlers: list[threading.Thread] = []

    # -- data ---------------------------------------------------------------------------------------------------
    def add_spreadsheet(self, key: str, worksheets: dict[str, list[list]], row_count: int | None = None) -> None:
        """Worksheets by title, each a list of rows (header first) of str, int, float, bool, DateCell or None.
        Like a Forms response sheet, the grid has at least 1000 rows unless `row_count` says otherwise."""
        self.spreadsheets[key] = [
            _Worksheet(title, sheet_id, [list(r) for r in rows],
                       row_count=row_count or max(len(rows), 1000),
                       column_count=max([26, *(len(r) for r in rows)]))
            for sheet_id, (title, rows) in enumerate(worksheets.items())]

    # -- faults -------------------------------------------------------------------------------------------------
    def fail(self, status: int, times: int | None = None, on: str = "api", skip: int = 0,
             retry_after: str | None = None) -> None:
        self.faults.append(Fault(status=status, on=on, times=times, skip=skip, retry_after=retry_after))

    def slow(self, delay: float, times: int | None = None, on: str = "api") -> None:
        self.faults.append(Fault(status=200, on=on, times=times, delay=delay))

    def malformed(self, times: int | None = None, on: str = "api") -> None:
        self.faults.append(Fault(status=200, on=on, times=times, body=b'{"spreadsheetId": "x", "properties": {'))

    # -- what happened ------------------------------------------------------------------------------------------
    def of_kind(self, *kinds: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.kind in kinds]

    # -- service account ----------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "start the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def endpoint(self) -> str:
        """The Sheets API root, as ANTT_SHEETS_ENDPOINT takes it."""
        return f"{self.url}/v4/spreadsheets"

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    def service_account_info(self) -> dict:
        """A service-account key file's content, with a throwaway RSA key and this server as token endpoint."""
        pem = _private_key().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()).decode()
        return {"type": "service_account", "project_id": "antt-test", "private_key_id": "fake-key-1",
                "private_key": pem, "client_email": CLIENT_EMAIL, "client_id": "100000000000000000001",
                "token_uri": self.token_uri}

    def write_service_account(self, path: Path) -> Path:
        path.write_text(json.dumps(self.service_account_info()), encoding="utf-8")
        return path

    # -- lifecycle ----------------------------------------------------------------------------------------------
    def start(self) -> FakeSheets:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-sheets", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and wait for every handler thread (a slow answer is cut short)."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def alive(self) -> bool:
        """Whether the server thread or any thread that answered a request is still running."""
        with self._lock:
            threads = [self._thread, *self._handlers]
        return any(t is not None and t.is_alive() for t in threads)

    def __enter__(self) -> FakeSheets:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- serving ------------------------------------------------------------------------------------------------
    def _record(self, rec: Recorded) -> Fault | None:
        """Log the request and take the fault, if any, that answers it."""
        with self._lock:
            self.requests.append(rec)
            self._handlers.append(threading.current_thread())
            self.at_once += 1
            self.most_at_once = max(self.most_at_once, self.at_once)
            for fault in self.faults:
                if fault.times == 0 or not _matches(fault.on, rec.kind):
                    continue
                if fault.skip:
                    fault.skip -= 1
                    continue
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None

    def _token(self, form: dict[str, list[str]], rec: Recorded) -> tuple[int, dict]:
        if form.get("grant_type") != [JWT_BEARER] or not form.get("assertion"):
            return 400, {"error": "unsupported_grant_type", "error_description": "expected a JWT-bearer grant"}
        try:
            rec.claims = _verified_claims(form["assertion"][0])
        except (ValueError, InvalidSignature):
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        # google-auth signs for Google's own token audience whatever token_uri says, as Google expects.
        if rec.claims.get("aud") not in (GOOGLE_AUDIENCE, self.token_uri) or rec.claims.get("iss") != CLIENT_EMAIL:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT: wrong audience or issuer."}
        with self._lock:
            token = f"fake-token-{len(self.tokens) + 1}"
            self.tokens.add(token)
        return 200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}

    def _api(self, rec: Recorded) -> tuple[int, dict]:
        if rec.authorization.removeprefix("Bearer ") not in self.tokens:
            return _error(401, "Request is missing required authentication credential.")
        match = re.fullmatch(r"/v4/spreadsheets/([^/:]+)(/values/(.+)|/values:batchGet)?", rec.path)
        if not match or rec.method != "GET":
            return _error(404, "Method not found.")
        book = self.spreadsheets.get(match.group(1))
        if book is None:
            return _error(404)
        if rec.kind == "metadata":
            return 200, _metadata(match.group(1), book)
        options = {k: v[0] for k, v in rec.query.items() if k in ("valueRenderOption", "dateTimeRenderOption")}
        ranges = [match.group(3)] if rec.kind == "values" else rec.query.get("ranges", [])
        try:
            found = [_value_range(book, r, options) for r in ranges]
        except KeyError as exc:
            return _error(400, f"Unable to parse range: {exc.args[0]}")
        if rec.kind == "values":
            return 200, found[0]
        return 200, {"spreadsheetId": match.group(1), "valueRanges": found}


class _Server(ThreadingHTTPServer):
    # Handler threads are joined on close, so a stopped fake leaves no thread behind.
    daemon_threads = False
    block_on_close = True

    def handle_error(self, request, client_address) -> None:
        """A client that timed out and hung up is expected here, not a failure of the fake."""


class _Handler(BaseHTTPRequestHandler):
    fake: FakeSheets
    # HTTP/1.0: one request per connection, so no handler thread waits on an idle keep-alive socket.
    protocol_version = "HTTP/1.0"

    def log_message(self, format, *args) -> None:
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        fake = self.fake
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        rec = Recorded(method=self.command, path=path, kind=_kind(path), query=parse_qs(parts.query),
                       authorization=self.headers.get("Authorization", ""), at=time.monotonic())
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode()) if length else {}
        fault = fake._record(rec)
        try:
            if fault is not None and fault.delay:
                fake._stopping.wait(fault.delay)
            if fault is not None and (fault.status != 200 or fault.body is not None):
                status = fault.status
                body = fault.body if fault.body is not None else json.dumps(_error(status)[1]).encode()
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            else:
                status, payload = fake._token(form, rec) if rec.kind == "token" else fake._api(rec)
                body, headers = json.dumps(payload, ensure_ascii=False).encode(), {}
            rec.status = status
        finally:
            with fake._lock:  # counted out before the client can read the answer, so never counted twice
                fake.at_once -= 1
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


def _kind(path: str) -> str:
    if path == "/token":
        return "token"
    if re.fullmatch(r"/v4/spreadsheets/[^/:]+", path):
        return "metadata"
    if re.fullmatch(r"/v4/spreadsheets/[^/:]+/values/.+", path):
        return "values"
    if re.fullmatch(r"/v4/spreadsheets/[^/:]+/values:batchGet", path):
        return "batch"
    return "other"


def _matches(on: str, kind: str) -> bool:
    if on == "api":
        return kind != "token"
    if on == "values":
        return kind in ("values", "batch")
    return on == kind


def _error(status: int, message: str | None = None) -> tuple[int, dict]:
    return status, {"error": {"code": status, "message": message or _MESSAGE.get(status, "Error"),
                              "status": _STATUS.get(status, "UNKNOWN")}}


def _metadata(key: str, book: list[_Worksheet]) -> dict:
    return {"spreadsheetId": key,
            "properties": {"title": f"Responses {key}", "locale": "vi_VN", "timeZone": "Asia/Ho_Chi_Minh"},
            "sheets": [{"properties": {"sheetId": ws.sheet_id, "title": ws.title, "index": i, "sheetType": "GRID",
                                       "gridProperties": {"rowCount": ws.row_count,
                                                          "columnCount": ws.column_count}}}
                       for i, ws in enumerate(book)],
            "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{key}/edit"}


def _value_range(book: list[_Worksheet], a1: str, options: dict[str, str]) -> dict:
    """values.get for one A1 range: 'Title'!A1:Z500, Title!A:C, 'Title'!1:20, 'Title', or A1:B2 on the first sheet.
    Like Google, it leaves out trailing empty cells of each row and trailing empty rows."""
    ws, cells = _sheet_and_cells(book, a1)
    r0, c0, r1, c1 = _bounds(cells, a1)
    r1 = min(r1 if r1 is not None else ws.row_count, ws.row_count)
    rows = []
    for row in ws.rows[r0:r1]:
        out = [_render(v, options) for v in row[c0:c1]]
        while out and out[-1] in ("", None):
            out.pop()
        rows.append(out)
    while rows and not rows[-1]:
        rows.pop()
    result = {"range": f"'{ws.title}'!{cells}" if cells else f"'{ws.title}'", "majorDimension": "ROWS"}
    if rows:
        result["values"] = rows
    return result


def _sheet_and_cells(book: list[_Worksheet], a1: str) -> tuple[_Worksheet, str]:
    titles = {ws.title: ws for ws in book}
    name, bang, cells = a1.rpartition("!")
    if not bang:
        name, cells = a1, ""
    if name.startswith("'") and name.endswith("'") and len(name) > 1:
        name = name[1:-1].replace("''", "'")
    if name in titles:
        return titles[name], cells
    if not bang and re.fullmatch(r"[A-Z]*\d*(:[A-Z]*\d*)?", a1):
        return book[0], a1
    raise KeyError(a1)


def _bounds(cells: str, a1: str) -> tuple[int, int, int | None, int | None]:
    """0-based [r0, r1) × [c0, c1) of an A1 cell range; None for an open end."""
    if not cells:
        return 0, 0, None, None
    start, _, end = cells.partition(":")
    end = end or start
    s, e = re.fullmatch(r"([A-Z]*)(\d*)", start), re.fullmatch(r"([A-Z]*)(\d*)", end)
    if not s or not e or not (start and end):
        raise KeyError(a1)
    r0 = int(s.group(2)) - 1 if s.group(2) else 0
    c0 = _column(s.group(1)) - 1 if s.group(1) else 0
    r1 = int(e.group(2)) if e.group(2) else None
    c1 = _column(e.group(1)) if e.group(1) else None
    return r0, c0, r1, c1


def _column(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - ord("A") + 1
    return n


def _render(value, options: dict[str, str]):
    """A cell as the API renders it under valueRenderOption / dateTimeRenderOption."""
    formatted = options.get("valueRenderOption", "FORMATTED_VALUE") == "FORMATTED_VALUE"
    if isinstance(value, DateCell):
        if formatted or options.get("dateTimeRenderOption") == "FORMATTED_STRING":
            return value.text
        return value.serial
    if value is None:
        return ""
    if not formatted:
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return str(value)


@cache
def _private_key() -> rsa.RSAPrivateKey:
    """One throwaway key per test session: generating RSA keys is the slow part of a fake service account."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _verified_claims(assertion: str) -> dict:
    """The claims of an RS256 JWT signed by the fake service account's key (ValueError if not well-formed)."""
    try:
        header, payload, signature = assertion.split(".")
        if json.loads(_b64(header)).get("alg") != "RS256":
            raise ValueError("not RS256")
        _private_key().public_key().verify(_b64(signature), f"{header}.{payload}".encode(), padding.PKCS1v15(),
                                           hashes.SHA256())
        return json.loads(_b64(payload))
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError) as exc:
        raise ValueError(str(exc)) from None
