"""Command-line interface: ``flask --app wsgi …`` (CONTRACT §2)."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup

from lavish.extensions import db

users_cli = AppGroup("users", help="Manage user accounts.")


@users_cli.command("create-admin")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--name", default="Staff")
def create_admin(email: str, password: str, name: str) -> None:
    """Create a staff account (or promote an existing one) with the admin role."""
    from lavish.accounts.passwords import hash_password
    from lavish.clock import utcnow
    from lavish.models import Role, User, normalize_email

    email = normalize_email(email)
    user = db.session.scalar(sa.select(User).where(User.email == email))
    if user is None:
        user = User(email=email, name=name)
        db.session.add(user)
    user.role = Role.ADMIN
    user.password_hash = hash_password(password)
    user.email_verified_at = user.email_verified_at or utcnow()
    db.session.commit()
    click.echo(f"Admin {email} is ready.")


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.argument("queues", nargs=-1)
def worker_command(burst: bool, queues: tuple[str, ...]) -> None:
    """Run an RQ worker (with the scheduler, for retries)."""
    from rq import Worker

    from lavish.background import redis_connection

    if not current_app.config.get("REDIS_URL"):
        raise click.ClickException("REDIS_URL is not set: jobs run in-process, no worker needed.")
    connection = redis_connection()
    worker = Worker(list(queues or ["default"]), connection=connection)
    worker.work(with_scheduler=True, burst=burst)


@click.command("sweep")
def sweep_command() -> None:
    """Run every periodic sweep once, now."""
    from jobs.sweeps import run_all_sweeps

    for name, count in run_all_sweeps().items():
        click.echo(f"{name}: {count}")


@click.command("cron")
def cron_command() -> None:
    """Run the periodic sweeps scheduler (enqueues sweeps on RQ)."""
    import subprocess
    import sys

    if not current_app.config.get("REDIS_URL"):
        raise click.ClickException("REDIS_URL is not set: run `flask --app wsgi sweep` instead.")
    # rq's own cron scheduler reads the schedule from jobs/cron.py.
    raise SystemExit(
        subprocess.call(
            [
                sys.executable,
                "-m",
                "rq.cli",
                "cron",
                "jobs.cron",
                "--url",
                current_app.config["REDIS_URL"],
            ]
        )
    )


def register_cli(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(worker_command)
    app.cli.add_command(sweep_command)
    app.cli.add_command(cron_command)
    from lavish.hosting.cli import demo_command, sites_cli

    app.cli.add_command(sites_cli)
    app.cli.add_command(demo_command)
