"""Commands: `flask --app wsgi sites import|reconcile|nginx-config` and `flask --app wsgi demo`."""

from __future__ import annotations

import secrets
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from lavish.extensions import db
from lavish.hosting import services
from lavish.hosting.layout import sites_root, version_dir
from lavish.hosting.publisher import PublishError
from lavish.hosting.slugs import SlugError
from lavish.models import Site
from lavish.urls import site_url

sites_cli = AppGroup("sites", help="Publish and manage hosted sites.")

DEMO_SLUG = "la-plumbing-pros"
DEMO_FOLDER = Path(__file__).resolve().parent.parent / "demo" / DEMO_SLUG
# Not admin@lavish.local: ".local" is a special-use domain that email validation (the login
# form) refuses, so that login could never sign in.
DEMO_ADMIN_EMAIL = "admin@lavish.example"


def _size(n: int) -> str:
    return f"{n / 1024:.1f} KB" if n < 1024 * 1024 else f"{n / (1024 * 1024):.1f} MB"


def import_site(
    slug: str,
    folder: Path,
    *,
    name: str,
    phone: str | None = None,
    email: str | None = None,
    city: str | None = None,
    category: str | None = None,
    note: str = "",
):
    """Publish `folder` as a new preview site `slug` or as the next version of it, and commit.
    Raises SlugError / PublishError / ValueError with a message; nothing changes then."""
    site = db.session.scalar(sa.select(Site).where(Site.slug == slug))
    created = site is None
    try:
        if created:
            site = services.create_site(
                slug, name, phone=phone or "", email=email or "", city=city or "",
                category=category or "",
            )  # fmt: skip
        else:
            if not name.strip():
                raise ValueError("The business name is required.")
            site.business_name = name.strip()
            for field, value in (("phone", phone), ("email", email), ("city", city),
                                 ("category", category)):  # fmt: skip
                if value is not None:
                    setattr(site, field, value.strip())
        version = services.publish(site, folder, note=note)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return site, version, created


@sites_cli.command("import")
@click.argument("slug")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--name", required=True, help="The business name.")
@click.option("--phone")
@click.option("--email")
@click.option("--city")
@click.option("--category")
@click.option("--note", default="", help="What changed in this version.")
def import_command(slug, folder, name, phone, email, city, category, note) -> None:
    """Publish FOLDER as the preview site SLUG, or as a new version of it."""
    try:
        site, version, created = import_site(
            slug, folder, name=name, phone=phone, email=email, city=city, category=category,
            note=note,
        )  # fmt: skip
    except (SlugError, PublishError, ValueError) as exc:
        raise click.ClickException(f"{exc} Nothing was published.") from exc
    what = "Created preview site" if created else "Published"
    click.echo(
        f"{what} {site.slug}: version {version.number} "
        f"({version.file_count} files, {_size(version.total_bytes)}), status {site.status}."
    )
    click.echo(f"Live at {site_url(site.slug)}")
    from lavish.domains.links import root_links

    # A site is served at /<slug>/ and at / on its custom domain: say what works at one only.
    for link in root_links(folder, site.slug):
        click.echo(f"warning: {link}", err=True)


@sites_cli.command("reconcile")
def reconcile_command() -> None:
    """Re-derive every site's live files from the database (self-healing; safe to rerun)."""
    counts = services.reconcile()
    click.echo(
        f"{counts['sites']} sites checked, {counts['switched']} switched, "
        f"{counts['failed']} failed."
    )
    if counts["failed"]:
        raise SystemExit(1)


@sites_cli.command("nginx-config")
@click.option("--listen", default="80", show_default=True, help="Nginx `listen` value.")
@click.option("--upstream", default="127.0.0.1:8000", show_default=True, help="gunicorn address.")
@click.option("--server-name", default=None, help="Portal host name (default: PUBLIC_URL's).")
def nginx_config_command(listen: str, upstream: str, server_name: str | None) -> None:
    """Print deploy/nginx/lavish.conf rendered for this configuration, and write the custom
    domain map it includes (SITES_ROOT/domains/)."""
    from lavish.domains.publish import domains_dir, write_files
    from lavish.hosting.nginx import render_config

    write_files()
    click.echo(f"custom domain map written to {domains_dir()}", err=True)
    click.echo(render_config(listen=listen, upstream=upstream, server_name=server_name), nl=False)


def _admin_password() -> str:
    """The demo admin's password: generated once, kept in instance/."""
    path = Path(current_app.instance_path) / "demo_admin_password"
    if path.is_file() and path.read_text().strip():
        return path.read_text().strip()
    password = secrets.token_urlsafe(12)
    path.write_text(password + "\n")
    path.chmod(0o600)
    return password


def ensure_demo_admin() -> tuple[str, str]:
    from lavish.accounts.passwords import hash_password, verify_password
    from lavish.clock import utcnow
    from lavish.models import Role, User

    password = _admin_password()
    user = db.session.scalar(sa.select(User).where(User.email == DEMO_ADMIN_EMAIL))
    if user is None:
        user = User(email=DEMO_ADMIN_EMAIL, name="Lavish Admin")
        db.session.add(user)
    if user.role != Role.ADMIN:
        user.role = Role.ADMIN
    if not user.password_hash or not verify_password(user.password_hash, password):
        user.password_hash = hash_password(password)
    user.email_verified_at = user.email_verified_at or utcnow()
    db.session.commit()
    return DEMO_ADMIN_EMAIL, password


def ensure_demo_site() -> str:
    site = db.session.scalar(sa.select(Site).where(Site.slug == DEMO_SLUG))
    live = site.live_version if site is not None else None
    on_disk = (
        live is not None and (version_dir(sites_root(), DEMO_SLUG, live.number) / "htdocs").is_dir()
    )
    if site is None or not on_disk:
        import_site(
            DEMO_SLUG, DEMO_FOLDER, name=site.business_name if site else "LA Plumbing Pros",
            phone="(213) 555-0142", email="hello@laplumbingpros.example", city="Los Angeles",
            category="Plumbing", note="Demo site",
        )  # fmt: skip
        return "imported"
    services.reconcile([site.id])
    return "ready"


# More demo sites (the edit-request corpus and tests need variety): slug, name, phone, email,
# city, category. Imported as preview sites when missing.
MORE_DEMO_SITES = [
    ("bright-smile-dental", "Bright Smile Dental", "(512) 555-0123",
     "hello@brightsmiledental.example", "Austin", "Dentist"),
    ("golden-crust-bakery", "Golden Crust Bakery", "503-555-0177", "orders@goldencrust.example",
     "Portland", "Bakery"),
]  # fmt: skip


def ensure_more_demo_sites() -> list[str]:
    made = []
    for slug, name, phone, email, city, category in MORE_DEMO_SITES:
        site = db.session.scalar(sa.select(Site).where(Site.slug == slug))
        if site is not None and site.live_version is not None:
            continue
        import_site(slug, DEMO_FOLDER.parent / slug, name=name, phone=phone, email=email,
                    city=city, category=category, note="Demo site")  # fmt: skip
        made.append(slug)
    return made


@click.command("demo")
def demo_command() -> None:
    """Make sure the demo admin and the demo site exist (idempotent); print how to sign in."""
    email, password = ensure_demo_admin()
    state = ensure_demo_site()
    ensure_more_demo_sites()
    base = current_app.config["PUBLIC_URL"]  # `make run` sets it to the port it serves on
    click.echo("")
    click.echo(f"  Lavish:        {base}/")
    click.echo(f"  Admin login:   {base}/customer/login")
    click.echo(f"    email:       {email}")
    click.echo(f"    password:    {password}")
    click.echo(f"  Demo site ({state}): {base}/{DEMO_SLUG}/")
    for slug, *_ in MORE_DEMO_SITES:
        click.echo(f"  Demo site:     {base}/{slug}/")
    click.echo("")
