"""/api/docs (Swagger UI) and /api/redoc (ReDoc): HTML pages over the OpenAPI document
at /api/openapi.json, drawn by the vendored bundles with their start-up code in static
.js files (no inline script), under a strict Content-Security-Policy of their own.

Not part of the OpenAPI document (a plain Flask blueprint, like /healthz)."""

from __future__ import annotations

from flask import Blueprint, render_template, url_for

blp = Blueprint("docs", __name__, template_folder="templates")

# The vendored versions (backend/static/vendor/README.md lists each file and its hash).
SWAGGER_UI = "vendor/swagger-ui-dist-5.35.0"
REDOC = "vendor/redoc-2.5.4"

_COMMON = {
    "default-src": "'self'",
    "script-src": "'self'",
    "connect-src": "'self'",  # the OpenAPI document and Swagger UI's "Try it out"
    "img-src": "'self' data:",  # icons inlined as data: URIs in the bundles' CSS
    "font-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
# Both bundles set element styles from script (React style props, styled-components).
_STYLE = {"style-src": "'self' 'unsafe-inline'"}
# ReDoc runs its search index in a worker made from a blob: URL.
_WORKER = {"worker-src": "blob:"}


def _csp(**extra: str) -> str:
    return "; ".join(f"{k} {v}" for k, v in {**_COMMON, **extra}.items())


SWAGGER_UI_CSP = _csp(**_STYLE)
REDOC_CSP = _csp(**_STYLE, **_WORKER)


def _page(template: str, csp: str):
    html = render_template(
        template,
        spec_url=url_for("api-docs.openapi_json"),
        swagger_ui=SWAGGER_UI,
        redoc=REDOC,
    )
    # Set, not defaulted: these pages need more than the `default-src 'none'` that every
    # other answer gets.
    return (
        html,
        200,
        {
            "Content-Type": "text/html; charset=utf-8",
            "Content-Security-Policy": csp,
        },
    )


@blp.get("/api/docs")
def swagger_ui():
    """Swagger UI: every operation, with "Try it out" against this server."""
    return _page("docs/swagger-ui.html", SWAGGER_UI_CSP)


@blp.get("/api/redoc")
def redoc():
    """ReDoc: the same document as one readable page."""
    return _page("docs/redoc.html", REDOC_CSP)
