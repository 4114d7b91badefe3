"""A fake Google Forms API v1 on 127.0.0.1 for tests: a real HTTP server speaking the real wire format.

It shares the fake Sheets API's server, OAuth token endpoint (JWT-bearer grant, signature checked), fault injection
and request log, and serves `forms.get` (a `Form`: items with `questionItem.question`, `choiceQuestion`,
`textQuestion`, `dateQuestion`) and `forms.responses.list` (`FormResponse`s with `answers[questionId].textAnswers`,
`pageSize` at most 5000, `pageToken`, `filter=timestamp > / >= RFC 3339`), shaped after Google's discovery document
forms.v1. A token carries the scopes the key asked for, unless `grant` narrows them; a call without its scope is
refused as Google refuses it.

    with FakeForms() as fake:
        fake.add_form(form_resource("FORMID", form_data(config, registry)), responses=[...])
        fake.fail(429, times=3, retry_after="0", on="responses")
        ... ANTT_FORMS_ENDPOINT=fake.endpoint ...
"""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime

from fake_sheets import FakeSheets, Recorded

FORMS_BODY = "https://www.googleapis.com/auth/forms.body.readonly"
FORMS_RESPONSES = "https://www.googleapis.com/auth/forms.responses.readonly"
MAX_PAGE = 5000
_FILTER = re.compile(r"\s*timestamp\s*(>=|>)\s*(\S+)\s*")


class FakeForms(FakeSheets):
    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, dict] = {}
        self.responses: dict[str, list[dict]] = {}
        self.granted: dict[str, set[str]] = {}
        self.grant: set[str] | None = None  # None: every scope the key asks for

    # -- data ---------------------------------------------------------------------------------------------------
    def add_form(self, form: dict, responses: list[dict] = ()) -> None:
        """A `Form` resource and its `FormResponse`s (kept in the order given; the API does not sort them)."""
        self.forms[form["formId"]] = form
        self.responses[form["formId"]] = [dict(r, formId=form["formId"]) for r in responses]

    def put_response(self, form_id: str, response: dict) -> None:
        """Submit or edit (same responseId) one response."""
        kept = [r for r in self.responses[form_id] if r["responseId"] != response["responseId"]]
        self.responses[form_id] = kept + [dict(response, formId=form_id)]

    @property
    def endpoint(self) -> str:
        """The Forms API root, as ANTT_FORMS_ENDPOINT takes it."""
        return f"{self.url}/v1"

    # -- serving ------------------------------------------------------------------------------------------------
    def _record(self, rec: Recorded):
        rec.kind = _kind(rec.path)
        return super()._record(rec)

    def _token(self, form, rec: Recorded) -> tuple[int, dict]:
        status, payload = super()._token(form, rec)
        if status == 200:
            asked = set(str(rec.claims.get("scope", "")).split())
            with self._lock:
                self.granted[payload["access_token"]] = asked if self.grant is None else asked & self.grant
        return status, payload

    def _api(self, rec: Recorded) -> tuple[int, dict]:
        token = rec.authorization.removeprefix("Bearer ")
        if token not in self.tokens:
            return _error(401, "Request is missing required authentication credential.", "UNAUTHENTICATED")
        match = re.fullmatch(r"/v1/forms/([^/:]+)(/responses)?", rec.path)
        if not match or rec.method != "GET":
            return _error(404, "Method not found.", "NOT_FOUND")
        needed = FORMS_RESPONSES if match.group(2) else FORMS_BODY
        if needed not in self.granted.get(token, set()):
            return 403, {"error": {"code": 403, "message": "Request had insufficient authentication scopes.",
                                   "status": "PERMISSION_DENIED",
                                   "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                                "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                                                "domain": "googleapis.com"}]}}
        form_id = match.group(1)
        if form_id not in self.forms:
            return _error(404, "Requested entity was not found.", "NOT_FOUND")
        if not match.group(2):
            return 200, self.forms[form_id]
        return self._list(form_id, {k: v[0] for k, v in rec.query.items()})

    def _list(self, form_id: str, query: dict[str, str]) -> tuple[int, dict]:
        found = self.responses[form_id]
        if query.get("filter"):
            parsed = _FILTER.fullmatch(query["filter"])
            if not parsed:
                return _error(400, f"Invalid filter: {query['filter']}", "INVALID_ARGUMENT")
            at = _instant(parsed.group(2))
            if at is None:
                return _error(400, f"Invalid timestamp in filter: {parsed.group(2)}", "INVALID_ARGUMENT")
            after = parsed.group(1) == ">"
            found = [r for r in found if (_instant(r["lastSubmittedTime"]) > at if after
                                          else _instant(r["lastSubmittedTime"]) >= at)]
        size = int(query.get("pageSize") or 0) or MAX_PAGE
        size = min(size, MAX_PAGE)
        start = 0
        if query.get("pageToken"):
            try:
                start = json.loads(base64.urlsafe_b64decode(query["pageToken"]))["start"]
            except (ValueError, KeyError, TypeError):
                return _error(400, "Invalid page token.", "INVALID_ARGUMENT")
        page = {}
        if found[start:start + size]:
            page["responses"] = found[start:start + size]
        if start + size < len(found):
            page["nextPageToken"] = base64.urlsafe_b64encode(json.dumps({"start": start + size}).encode()).decode()
        return 200, page


def _kind(path: str) -> str:
    if path == "/token":
        return "token"
    if re.fullmatch(r"/v1/forms/[^/:]+", path):
        return "form"
    if re.fullmatch(r"/v1/forms/[^/:]+/responses", path):
        return "responses"
    return "other"


def _error(status: int, message: str, code: str) -> tuple[int, dict]:
    return status, {"error": {"code": status, "message": message, "status": code}}


def _instant(text: str) -> datetime | None:
    """An RFC 3339 "Zulu" time, up to nine fractional digits (compared at microseconds)."""
    try:
        return datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", text).replace("Z", "+00:00"))
    except ValueError:
        return None


def form_resource(form_id: str, data: dict) -> dict:
    """The `Form` that Google holds after `antt form export --format apps-script` ran: `data` is that script's
    form (antt.forms.apps_script.form_data). Question ids are Google's: opaque hex, not ours."""
    items = []
    for i, section in enumerate(data["sections"]):
        items.append({"itemId": f"{0x1000 + i:08x}", "title": section["title"],
                      **({"textItem": {}} if i == 0 else {"pageBreakItem": {}})})
        for q in section["questions"]:
            question = {"questionId": question_id(q["id"]), "required": q["required"]}
            if q["item"] in ("radio", "dropdown", "checkbox"):
                kind = {"radio": "RADIO", "dropdown": "DROP_DOWN", "checkbox": "CHECKBOX"}[q["item"]]
                question["choiceQuestion"] = {"type": kind, "options": [{"value": o} for o in q["options"]]}
            elif q["item"] == "date":
                question["dateQuestion"] = {"includeYear": True}
            else:
                question["textQuestion"] = {}
            items.append({"itemId": f"{0x2000 + len(items):08x}", "title": q["title"],
                          **({"description": q["help"]} if q.get("help") else {}),
                          "questionItem": {"question": question}})
    return {"formId": form_id, "info": {"title": data["title"], "documentTitle": data["title"],
                                        "description": data["description"]},
            "settings": {"emailCollectionType": "VERIFIED"}, "revisionId": "00000001",
            "responderUri": f"https://docs.google.com/forms/d/e/1FAIpQL{form_id[:20]}/viewform",
            "linkedSheetId": f"sheet-{form_id}", "items": items}


def question_id(our_id: str) -> str:
    """Google's question id for one of our questions in `form_resource`: stable, and not our id."""
    return f"{sum(ord(c) * 31 ** i for i, c in enumerate(our_id)) & 0xFFFFFFF:08x}"
