"""`flask --app wsgi ...` commands: create-staff, catalogue load, worker, demo, serve,
certificates rotate-key / keys, points-rules list / set."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from backend.db import db


def _as_cli(command: str) -> None:
    """The actor the audit log names for what a CLI command does."""
    import getpass

    from backend.audit.context import Actor, set_actor

    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    set_actor(db.session, Actor(f"cli:{who}", "system", f"cli {command}"))


def init_app(app: Flask) -> None:
    @app.cli.command("create-staff")
    @click.argument("login")
    @click.option("--password", required=True)
    @click.option("--roles", default="admin", show_default=True, help="comma-separated")
    def create_staff(login: str, password: str, roles: str):
        """Create a service-centre staff account (roles: admin, reviewer, expert, finance,
        auditor)."""
        from backend.auth.users import create_staff as create
        from backend.errors import ApiError

        if len(password) < 8:
            raise click.UsageError("the password needs 8 or more characters")
        _as_cli("create-staff")
        try:
            user = create(login, password, roles.split(","))
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

        _as_cli("catalogue load")
        try:
            counts = load(json.loads(path.read_text(encoding="utf-8")))
            db.session.commit()
        except ApiError as err:
            db.session.rollback()
            raise click.ClickException(f"{err.code}: {err.detail} {err.errors or ''}") from err
        click.echo(json.dumps(counts))

    audit = AppGroup("audit", help="The audit log.")
    app.cli.add_command(audit)

    @audit.command("verify")
    def audit_verify():
        """Recompute the audit log's hash chain; names the first broken record (exit 1)."""
        from backend.audit.chain import verify

        verdict = verify()
        db.session.rollback()
        if verdict.ok:
            click.echo(f"audit chain ok: {verdict.records} records")
            return
        click.echo(
            f"audit chain broken at record {verdict.broken_id}: {verdict.reason} "
            f"({verdict.records} records before it verify)",
            err=True,
        )
        sys.exit(1)

    @app.cli.command("worker")
    @click.option("--queues", default=None, help="comma-separated (default: all)")
    @click.option("--cron/--no-cron", default=True, help="also run the periodic scheduler")
    @click.option("--burst", is_flag=True, help="stop when the queues are empty")
    def worker(queues: str | None, cron: bool, burst: bool):
        """An RQ worker for the app's queues, with RQ's scheduler and (unless --no-cron)
        the periodic jobs; it waits for Redis and survives its outages."""
        from jobs import worker as rq_worker

        try:
            code = rq_worker.run(
                current_app._get_current_object(),
                queues=queues.split(",") if queues else None,
                cron=cron,
                burst=burst,
            )
        except (RuntimeError, ValueError) as err:
            raise click.ClickException(str(err)) from err
        sys.exit(code)

    @app.cli.command("demo")
    def demo():
        """Load the default catalogue and demo accounts (idempotent)."""
        from backend.demo import load_demo

        for line in load_demo():
            click.echo(line)
        db.session.commit()

    certificates = AppGroup("certificates", help="The keys that sign certificates.")
    app.cli.add_command(certificates)

    @certificates.command("rotate-key")
    @click.option(
        "--out",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="where to write the new private key (default: the CERT_SIGNING_KEY file)",
    )
    def rotate_key(out: Path | None):
        """A new current signing key; the old one is retired, and stays published so that
        what it signed stays verifiable."""
        from backend.certificates import keys

        try:
            key, path = keys.rotate(out)
            db.session.commit()
        except keys.KeyConfigError as err:
            db.session.rollback()
            raise click.ClickException(str(err)) from err
        click.echo(f"new signing key {key.key_id} written to {path} (mode 0600)")
        source = current_app.config["CERT_SIGNING_KEY"]
        if keys.is_inline_pem(source) or Path(source).expanduser() != path.expanduser():
            click.echo(
                f"set CERT_SIGNING_KEY={path} and restart: until then certificates are "
                "refused (signing_key_retired)"
            )

    @certificates.command("keys")
    def list_keys():
        """The published signing keys, and which one this app is configured with."""
        from backend.certificates import keys

        configured = keys.configured().key_id
        rows = keys.published()
        for row in rows:
            retired = row.retired_at.isoformat() if row.retired_at else "-"
            mark = "  (configured)" if row.key_id == configured else ""
            click.echo(
                f"{row.key_id}  {row.algorithm}  {keys.status(row)}  "
                f"created {row.created_at.isoformat()}  retired {retired}{mark}"
            )
        if configured not in {r.key_id for r in rows}:
            click.echo(f"{configured}  configured, published when it first signs")

    points_rules = AppGroup("points-rules", help="How long points live (validity rules).")
    app.cli.add_command(points_rules)

    @points_rules.command("list")
    def points_rules_list():
        """The validity rules as published (the one in force marked)."""
        from backend.points import validity

        for rule in validity.public()["rules"]:
            mark = "  (in force)" if rule["in_force"] else ""
            mark += "  (scheduled)" if rule["scheduled"] else ""
            click.echo(
                f"{rule['months']} months from {rule['effective_from'].isoformat()}: "
                f"{rule['note']}{mark}"
            )
        db.session.rollback()

    @points_rules.command("set")
    @click.option("--months", type=click.IntRange(1, 1200), required=True)
    @click.option(
        "--from",
        "effective_from",
        default=None,
        help="ISO 8601 time with an offset (default: now); never in the past",
    )
    @click.option("--note", required=True, help="the public note residents read")
    def points_rules_set(months: int, effective_from: str | None, note: str):
        """Publish a validity rule for points credited from --from on (never earlier)."""
        from datetime import datetime

        from backend.errors import ApiError
        from backend.points import validity

        _as_cli("points-rules set")
        try:
            start = datetime.fromisoformat(effective_from) if effective_from else None
        except ValueError as err:
            raise click.BadParameter(str(err), param_hint="--from") from err
        try:
            rule = validity.publish(months, note, actor="cli", effective_from=start)
            db.session.commit()
        except ApiError as err:
            db.session.rollback()
            raise click.ClickException(f"{err.code}: {err.detail} {err.errors or ''}") from err
        click.echo(f"rule {rule.id}: {months} months from {rule.effective_from.isoformat()}")
