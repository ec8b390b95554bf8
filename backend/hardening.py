"""Bad input and response headers, for every route at once.

- JSON bodies are parsed by `loads()`: a body nested deeper than `MAX_JSON_DEPTH`
  (a body nested 10,000 levels deep made `json.loads` raise RecursionError: a 500 and a
  traceback on every JSON route) is malformed JSON like any other (400
  `malformed_json`). Flask's `request.get_json()` (through the app's JSON provider) and
  the webargs parser (`backend.http.Parser`) both use it.
- A route whose OpenAPI operation takes a JSON body refuses a request that does not
  send one as `application/json` (a form, text/plain, or no body at all): 415
  `unsupported_media_type`. The routes come from the app's own OpenAPI document, so a
  route added later is covered.
- A query parameter the route's OpenAPI operation does not declare is refused: 400
  `unknown_parameter`, naming it in `errors` (`?account=points` on a list is a mistake
  to tell the client, not to ignore). Same source, same coverage.
- Every answer says `X-Content-Type-Options: nosniff` and carries a restrictive
  Content-Security-Policy (`default-src 'none'; frame-ancestors 'none'` for the API);
  an HTML page that sets its own CSP keeps it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask, Response, request
from flask.json.provider import DefaultJSONProvider

from backend.errors import ApiError

MAX_JSON_DEPTH = 64
API_CSP = "default-src 'none'; frame-ancestors 'none'"
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")  # DELETE /me takes a JSON body


class UnsupportedMediaType(ApiError):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


class UnknownParameter(ApiError):
    status, code, title = 400, "unknown_parameter", "Unknown query parameter"


def _too_deep(value: Any, limit: int) -> bool:
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def loads(text: str | bytes) -> Any:
    """`json.loads`, refusing (JSONDecodeError, a ValueError) what nests too deep."""
    try:
        value = json.loads(text)
    except RecursionError as exc:
        raise json.JSONDecodeError("JSON nested too deeply", "<body>", 0) from exc
    if _too_deep(value, MAX_JSON_DEPTH):
        raise json.JSONDecodeError(f"JSON nested deeper than {MAX_JSON_DEPTH}", "<body>", 0)
    return value


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class JSONProvider(DefaultJSONProvider):
    """JSON in: depth-limited (`loads`). JSON out as UTF-8 text: Chinese is sent as
    itself, not as `\\uXXXX` escapes; keys in the order the schemas give them. A lone
    surrogate (which UTF-8 cannot carry; a client may send one as `\\ud800` and have it
    echoed) stays a `\\uXXXX` escape."""

    ensure_ascii = False
    sort_keys = False

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s)

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        text = super().dumps(obj, **kwargs)
        if _LONE_SURROGATE.search(text):
            # Only inside string literals (JSON has no other place for one), so escaping
            # it gives exactly what ensure_ascii would have.
            text = _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
        return text


def is_json(mimetype: str | None) -> bool:
    return bool(mimetype) and (
        mimetype == "application/json"
        or (mimetype.startswith("application/") and mimetype.endswith("+json"))
    )


_PARAM = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")


def _documents(app: Flask) -> list[dict]:
    apis = {id(a): a for a in app.extensions["flask-smorest"]["blp_name_to_api"].values()}
    return [one.spec.to_dict() for one in apis.values()]


def _json_operations(app: Flask) -> set[tuple[str, str]]:
    """(OpenAPI path, METHOD) of every operation whose request body is JSON, from the
    app's OpenAPI document(s)."""
    out = set()
    for document in _documents(app):
        for path, item in document.get("paths", {}).items():
            for method, op in item.items():
                content = (
                    (op.get("requestBody") or {}).get("content", {}) if isinstance(op, dict) else {}
                )
                if any(is_json(mimetype) for mimetype in content):
                    out.add((path, method.upper()))
    return out


def _query_parameters(app: Flask) -> dict[tuple[str, str], frozenset[str]]:
    """(OpenAPI path, METHOD) -> the query parameters the operation declares."""
    out = {}
    for document in _documents(app):
        shared = document.get("components", {}).get("parameters", {})
        for path, item in document.get("paths", {}).items():
            common = item.get("parameters", [])
            for method, op in item.items():
                if not isinstance(op, dict) or method == "parameters":
                    continue
                params = [
                    shared.get(p["$ref"].rsplit("/", 1)[-1], {}) if "$ref" in p else p
                    for p in common + op.get("parameters", [])
                ]
                out[(path, method.upper())] = frozenset(
                    p["name"] for p in params if p.get("in") == "query"
                )
    return out


def init_app(app: Flask) -> None:
    app.json = JSONProvider(app)

    @app.before_request
    def _declared_query_only():
        if not request.args or request.url_rule is None:
            return None
        declared = app.extensions.get("query_parameters")
        if declared is None:
            declared = app.extensions["query_parameters"] = _query_parameters(app)
        names = declared.get((_PARAM.sub(r"{\1}", request.url_rule.rule), request.method))
        if names is None:  # not an operation of the document (docs, health, pages)
            return None
        unknown = sorted(set(request.args) - names)
        if unknown:
            allowed = ", ".join(sorted(names)) or "none"
            raise UnknownParameter(
                f"Unknown query parameter(s): {', '.join(unknown)}; this route takes: {allowed}.",
                errors={name: ["Unknown query parameter."] for name in unknown},
            )
        return None

    @app.before_request
    def _json_body_only():
        if request.method not in BODY_METHODS or request.url_rule is None:
            return None
        if is_json(request.mimetype):
            return None
        operations = app.extensions.get("json_operations")
        if operations is None:
            operations = app.extensions["json_operations"] = _json_operations(app)
        path = _PARAM.sub(r"{\1}", request.url_rule.rule)
        if (path, request.method) in operations:
            raise UnsupportedMediaType(
                "This route takes a JSON body (Content-Type: application/json)."
            )
        return None

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        # HTML pages (the docs, the site, the verify page) set their own
        response.headers.setdefault("Content-Security-Policy", API_CSP)
        return response
