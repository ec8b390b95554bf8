"""The embedded default's scheduler: a daemon thread that runs the periodic jobs in this
process (no Redis). The same job code as under RQ."""

from __future__ import annotations

import logging
import threading
import time

from flask import Flask

from jobs.schedule import PERIODIC

log = logging.getLogger("jobs.inprocess")


def start(app: Flask, tick: float = 5.0) -> threading.Thread:
    def loop():
        import jobs
        from jobs.runner import execute

        jobs.load_all()
        last: dict[str, float] = {}
        while True:
            now = time.monotonic()
            for p in PERIODIC:
                if p.job in jobs.REGISTRY and now - last.get(p.job, 0) >= p.every_seconds:
                    last[p.job] = now
                    with app.app_context():
                        try:
                            execute(p.job, {})
                        except Exception:
                            log.exception("periodic job failed", extra={"job": p.job})
            time.sleep(tick)

    thread = threading.Thread(target=loop, name="inprocess-scheduler", daemon=True)
    thread.start()
    return thread
