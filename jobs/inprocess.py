"""The embedded default's scheduler: a daemon thread that runs the periodic jobs in this
process (no Redis). The same job code as under RQ."""

from __future__ import annotations

import logging
import threading
import time

from flask import Flask

from jobs import registry_of
from jobs.runner import execute

log = logging.getLogger("jobs.inprocess")


def start(app: Flask, tick: float = 5.0) -> threading.Thread:
    periodic = registry_of(app).periodic

    def loop():
        last: dict[str, float] = {}
        while True:
            now = time.monotonic()
            for p in periodic:
                name = p.spec.name
                if now - last.get(name, 0) >= p.every_seconds:
                    last[name] = now
                    with app.app_context():
                        try:
                            execute(name, {})
                        except Exception:
                            log.exception("periodic job failed", extra={"fields": {"job": name}})
            time.sleep(tick)

    thread = threading.Thread(target=loop, name="inprocess-scheduler", daemon=True)
    thread.start()
    return thread
