"""Errors as RFC 9457 problem documents with a stable machine `code`.

Services raise `ApiError` subclasses (they know nothing of HTTP beyond a status);
`backend.http.Api` turns them, and every werkzeug / webargs error, into
`application/problem+json`.

Every (status, code) an answer can carry is in one catalogue, `PROBLEMS`, which the
OpenAPI document is written from (`backend.apidoc`): an `ApiError` subclass that sets its
own `code` is entered when it is defined (its `title`, and the `extras` members it adds
to the problem, each a JSON Schema with a description and an example); the codes of the
HTTP layer are entered below. A resource names the codes its rules may raise with
`@blp.problems(status, code, ...)`, and names only catalogued ones (checked when the
document is built). An extra member never replaces a standard one (`type`, `title`,
`status`, `detail`, `code`, `errors`): a state is `current_status`, not `status`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Response, json
from werkzeug.exceptions import HTTPException

PROBLEM_TYPE = "https://sip-carbon-points.example/problems/"
STANDARD_MEMBERS = frozenset({"type", "title", "status", "detail", "code", "errors"})

# Default machine codes for plain HTTP errors.
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    500: "internal_error",
}


@dataclass(frozen=True)
class ProblemType:
    """One (status, code) of the catalogue: its title and the members it adds."""

    status: int
    code: str
    title: str
    extras: dict[str, dict] = field(default_factory=dict)


PROBLEMS: dict[tuple[int, str], ProblemType] = {}


def register(status: int, code: str, title: str, extras: dict[str, dict] | None = None):
    """Enter (status, code) in the catalogue; entering it again merges its extras."""
    extras = dict(extras or {})
    clash = STANDARD_MEMBERS & set(extras)
    if clash:
        raise ValueError(f"{code}: extra members may not replace standard ones {sorted(clash)}")
    known = PROBLEMS.get((status, code))
    if known is not None:
        extras = {**known.extras, **extras}
        title = known.title
    PROBLEMS[(status, code)] = ProblemType(status, code, title, extras)
    return PROBLEMS[(status, code)]


def integer(description: str, example: int) -> dict:
    """An extra member's schema: an integer."""
    return {"type": "integer", "description": description, "example": example}


def text(description: str, example: str, **more: Any) -> dict:
    """An extra member's schema: a string."""
    return {"type": "string", "description": description, "example": example, **more}


CURRENT_STATUS = {
    "current_status": text("The state the object is in now.", "executed"),
}


class ApiError(Exception):
    status = 400
    code = "bad_request"
    title = "Bad request"
    # The members this code adds to the problem: name -> JSON Schema (with a description
    # and an example). Documented in the OpenAPI document.
    extras: dict[str, dict] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "code" in cls.__dict__ or "extras" in cls.__dict__:
            register(cls.status, cls.code, cls.title, cls.extras)

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        status: int | None = None,
        errors: dict | None = None,
        extra: dict | None = None,
        headers: dict | None = None,
    ):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        if code:
            self.code = code
        if status:
            self.status = status
        self.errors = errors
        self.extra = extra or {}
        self.headers = headers or {}


class Unauthorized(ApiError):
    status, code, title = 401, "unauthorized", "Authentication required"


class Forbidden(ApiError):
    status, code, title = 403, "forbidden", "Not allowed for this role"


class NotFound(ApiError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(ApiError):
    status, code, title = 409, "conflict", "Conflict with the current state"


class Invalid(ApiError):
    status, code, title = 422, "validation_failed", "Validation failed"


class TooLarge(ApiError):
    status, code, title = 413, "payload_too_large", "Request too large"


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    errors: dict | None = None,
    extra: dict | None = None,
    headers: dict | None = None,
) -> Response:
    body: dict[str, Any] = dict(extra or {})  # the standard members win over extras
    body |= {
        "type": PROBLEM_TYPE + code,
        "title": title or HTTP_CODES.get(status, "error").replace("_", " ").capitalize(),
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors is not None:
        body["errors"] = errors
    resp = Response(
        json.dumps(body), status=status, mimetype="application/problem+json", headers=headers
    )
    return resp


def from_api_error(err: ApiError) -> Response:
    return problem(
        err.status,
        err.code,
        err.detail,
        title=err.title,
        errors=err.errors,
        extra=err.extra,
        headers=err.headers,
    )


def _flatten_webargs(messages: Any) -> dict:
    """webargs nests messages by location ({"json": {...}}); flatten one level."""
    if isinstance(messages, dict) and len(messages) == 1:
        ((loc, inner),) = messages.items()
        if loc in {"json", "query", "headers", "form", "files", "path", "view_args"}:
            return inner if isinstance(inner, dict) else {"_schema": inner}
    return messages if isinstance(messages, dict) else {"_schema": messages}


def from_http_exception(err: HTTPException) -> Response:
    status = err.code or 500
    data = getattr(err, "data", None) or {}
    code = data.get("code") or HTTP_CODES.get(status, "error")
    errors = None
    if "errors" in data:
        errors = data["errors"]
    elif "messages" in data:
        errors = _flatten_webargs(data["messages"])
    detail = data.get("message") or err.description or err.name
    if status == 422 and errors is not None:
        detail = "The request did not validate; see errors."
    # Outside debug mode Flask's `request.get_json()` raises a bare BadRequest `from`
    # werkzeug's "Failed to decode JSON object" one.
    descriptions = [str(getattr(e, "description", "") or "") for e in (err, err.__cause__)]
    if status == 400 and (
        errors == {"_schema": ["Invalid JSON body."]}
        or any("Failed to decode JSON" in d for d in descriptions)
    ):
        errors = None
        code = "malformed_json"
        detail = "The body is not valid JSON."
    headers = dict(data.get("headers") or {})
    if hasattr(err, "get_headers"):
        for k, v in err.get_headers():
            if k.lower() not in {"content-type"}:
                headers.setdefault(k, v)
    return problem(status, code, detail, title=err.name, errors=errors, headers=headers)


# The codes of the HTTP layer (the rules' own codes enter with their classes).
for _status, _code in HTTP_CODES.items():
    register(_status, _code, _code.replace("_", " ").capitalize())
register(400, "malformed_json", "The body is not valid JSON")
register(409, "retry", "A concurrent change won; retry the request")
register(503, "retry", "The database is out of reach for a moment; retry the request")
