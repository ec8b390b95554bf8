"""One structured log line per request, with a request id. It names the route, the
status, the time taken and the caller's kind and id: never a phone, a token, a body or a
query string."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from flask import Flask, g, request

log = logging.getLogger("backend.request")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        base.update(getattr(record, "fields", {}))
        if record.exc_info:
            base["exc"] = self.formatException(record.exc_info)
        return json.dumps(base, ensure_ascii=False)


def init_app(app: Flask) -> None:
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(app.config.get("LOG_LEVEL", "INFO"))

    @app.before_request
    def _start():
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def _line(response):
        principal = g.get("principal")
        fields = {
            "request_id": g.get("request_id"),
            "method": request.method,
            "route": request.url_rule.rule if request.url_rule else None,
            "status": response.status_code,
            "ms": round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 2),
            "actor": principal.actor if principal else None,
        }
        log.info("request", extra={"fields": fields})
        if g.get("request_id"):
            response.headers["X-Request-ID"] = g.request_id
        return response
