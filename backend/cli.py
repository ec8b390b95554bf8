"""`flask --app wsgi ...` commands: create-staff, catalogue load, worker, demo, serve."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from backend.db import db


def init_app(app: Flask) -> None:
    @app.cli.command("create-staff")
    @click.argument("login")
    @click.option("--password", required=True)
    @click.option("--roles", default="admin", show_default=True, help="comma-separated")
    def create_staff(login: str, password: str, roles: str):
        """Create a service-centre staff account."""
        from backend.auth.services import create_login_user
        from backend.errors import ApiError

        if len(password) < 8:
            raise click.UsageError("the password needs 8 or more characters")
        try:
            user = create_login_user("staff", login, password, roles=roles.split(","))
            db.session.commit()
        except ApiError as err:
            db.session.rollback()
            raise click.ClickException(f"{err.code}: {err.detail} {err.errors or ''}") from err
        click.echo(f"staff {login} created (id {user.id})")

    catalogue = AppGroup("catalogue", help="The methodology and scenario catalogue.")
    app.cli.add_command(catalogue)

    @catalogue.command("load")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def catalogue_load(path: Path):
        """Load a catalogue document; loading it twice changes nothing."""
        from backend.errors import ApiError
        from backend.registry.catalogue import load

        try:
            counts = load(json.loads(path.read_text(encoding="utf-8")))
            db.session.commit()
        except ApiError as err:
            db.session.rollback()
            raise click.ClickException(f"{err.code}: {err.detail} {err.errors or ''}") from err
        click.echo(json.dumps(counts))

    @app.cli.command("worker")
    @click.option("--queues", default=None, help="comma-separated (default: all)")
    @click.option("--cron/--no-cron", default=True, help="also run the periodic scheduler")
    @click.option("--burst", is_flag=True, help="stop when the queues are empty")
    def worker(queues: str | None, cron: bool, burst: bool):
        """An RQ worker for the app's queues, with RQ's scheduler and the periodic jobs."""
        from redis import Redis
        from rq import Queue, Worker

        import jobs

        url = current_app.config.get("REDIS_URL")
        if not url:
            raise click.ClickException("REDIS_URL is not set: jobs run in-process")
        conn = Redis.from_url(url)
        names = queues.split(",") if queues else list(jobs.QUEUES)
        cron_proc = None
        if cron:
            cron_proc = multiprocessing.get_context("spawn").Process(
                target=_run_cron, args=(url,), daemon=True
            )
            cron_proc.start()
        try:
            w = Worker([Queue(n, connection=conn) for n in names], connection=conn)
            w.work(with_scheduler=True, burst=burst)
        finally:
            if cron_proc is not None:
                cron_proc.terminate()

    @app.cli.command("demo")
    def demo():
        """Load the default catalogue and demo accounts (idempotent)."""
        from backend.demo import load_demo

        for line in load_demo():
            click.echo(line)
        db.session.commit()


def _run_cron(url: str) -> None:
    from redis import Redis
    from rq.cron import CronScheduler

    from jobs.schedule import register_cron

    cron = CronScheduler(connection=Redis.from_url(url), name="sip-carbon-points")
    register_cron(cron)
    cron.start()
