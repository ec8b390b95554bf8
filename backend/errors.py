"""Errors as RFC 9457 problem documents with a stable machine `code`.

Services raise `ApiError` subclasses (they know nothing of HTTP beyond a status);
`backend.http.Api` turns them, and every werkzeug / webargs error, into
`application/problem+json`.
"""

from __future__ import annotations

from typing import Any

from flask import Response, json
from werkzeug.exceptions import HTTPException

PROBLEM_TYPE = "https://sip-carbon-points.example/problems/"

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


class ApiError(Exception):
    status = 400
    code = "bad_request"
    title = "Bad request"

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
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + code,
        "title": title or HTTP_CODES.get(status, "error").replace("_", " ").capitalize(),
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors is not None:
        body["errors"] = errors
    if extra:
        body.update(extra)
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
