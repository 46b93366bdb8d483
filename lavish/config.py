"""Configuration read from the environment (CONTRACT §3). Defaults are for `make run`."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: str = "") -> list[str]:
    value = os.environ.get(name)
    value = default if value in (None, "") else value
    return [part.strip().lower() for part in value.split(",") if part.strip()]


def load_secret_key(instance_path: Path) -> str:
    """SECRET_KEY from the environment, or one generated once into instance/."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def engine_options(config: dict) -> dict:
    """SQLALCHEMY_ENGINE_OPTIONS with the connect timeout for PostgreSQL (unless the URL or the
    options already set one)."""
    import sqlalchemy as sa

    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    url = sa.make_url(config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
        connect_args = dict(options.get("connect_args") or {})
        connect_args.setdefault("connect_timeout", config["DATABASE_CONNECT_TIMEOUT"])
        options["connect_args"] = connect_args
    return options


def from_environment(instance_path: Path) -> dict:
    """The whole configuration as a mapping; create_app() overlays its `config` argument."""
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance_path / 'lavish.db'}"
    public_url = os.environ.get("PUBLIC_URL", "http://127.0.0.1:5000").rstrip("/")
    mail_server = os.environ.get("MAIL_SERVER") or None
    recurrente_secret = os.environ.get("RECURRENTE_SECRET_KEY") or None
    return {
        "SECRET_KEY": load_secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": database_url,
        # No pool_pre_ping: lavish.connections drops connections the server closed, without
        # a round trip per request.
        "SQLALCHEMY_ENGINE_OPTIONS": {},
        # Seconds to wait for a new PostgreSQL connection (libpq waits forever by default): an
        # unreachable database is a quick 503 and a failing /healthz, not hung workers.
        "DATABASE_CONNECT_TIMEOUT": _env_int("DATABASE_CONNECT_TIMEOUT", 5),
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        "PUBLIC_URL": public_url,
        "SITES_ROOT": os.environ.get("SITES_ROOT") or str(PROJECT_ROOT / "hosted"),
        "SITES_HOST": os.environ.get("SITES_HOST") or None,
        # The only server folder staff may publish sites from (console: "New preview site").
        "SITES_IMPORT_ROOT": os.environ.get("SITES_IMPORT_ROOT") or str(instance_path / "imports"),
        # What one site may hold (folders and zips alike): bytes per file, bytes in all, and
        # entries (files and folders together); and the largest zip staff may upload.
        "SITES_MAX_FILE_BYTES": _env_int("SITES_MAX_FILE_BYTES", 20 * 1024 * 1024),
        "SITES_MAX_TOTAL_BYTES": _env_int("SITES_MAX_TOTAL_BYTES", 200 * 1024 * 1024),
        "SITES_MAX_FILES": _env_int("SITES_MAX_FILES", 2000),
        "SITES_MAX_UPLOAD_BYTES": _env_int("SITES_MAX_UPLOAD_BYTES", 50 * 1024 * 1024),
        "MAIL_SERVER": mail_server,
        "MAIL_PORT": _env_int("MAIL_PORT", 25),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD") or None,
        "MAIL_USE_TLS": _env_bool("MAIL_USE_TLS"),
        "MAIL_DEFAULT_SENDER": os.environ.get("MAIL_DEFAULT_SENDER")
        or "Lavish <hello@lavish.local>",
        "MAIL_OUTBOX_DIR": str(instance_path / "outbox"),
        # Seconds an SMTP connection may stall (Flask-Mail sets none) before the try fails.
        "MAIL_TIMEOUT": _env_float("MAIL_TIMEOUT", 30.0),
        "RECURRENTE_API_URL": os.environ.get(
            "RECURRENTE_API_URL", "https://app.recurrente.com/api"
        ).rstrip("/"),
        "RECURRENTE_PUBLIC_KEY": os.environ.get("RECURRENTE_PUBLIC_KEY") or None,
        "RECURRENTE_SECRET_KEY": recurrente_secret,
        "RECURRENTE_WEBHOOK_SECRET": os.environ.get("RECURRENTE_WEBHOOK_SECRET") or None,
        # Seconds per call to Recurrente's API (connect and read).
        "RECURRENTE_TIMEOUT": _env_float("RECURRENTE_TIMEOUT", 10.0),
        # Where the sandbox provider keeps its checkouts and subscriptions (JSON files).
        "SANDBOX_DIR": os.environ.get("SANDBOX_DIR") or str(instance_path / "sandbox"),
        "PAYMENT_PROVIDER": "recurrente" if recurrente_secret else "sandbox",
        "SITE_PRICE_CENTS": _env_int("SITE_PRICE_CENTS", 49500),
        "SUBSCRIPTION_PRICE_CENTS": _env_int("SUBSCRIPTION_PRICE_CENTS", 9500),
        "CURRENCY": os.environ.get("CURRENCY", "USD").upper(),
        "GRACE_DAYS": _env_int("GRACE_DAYS", 7),
        "CANCEL_GRACE_DAYS": _env_int("CANCEL_GRACE_DAYS", 30),
        "SETUP_DAYS": _env_int("SETUP_DAYS", 14),
        # Proxies in front of the app that set X-Forwarded-For/-Proto (1 behind deploy/'s Nginx):
        # without it every visitor has Nginx's address and shares one per-IP rate limit.
        "TRUSTED_PROXY_HOPS": _env_int("TRUSTED_PROXY_HOPS", 0),
        # Cookies: Secure everywhere except plain-http development.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": public_url.startswith("https://"),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": public_url.startswith("https://"),
        "REMEMBER_COOKIE_DURATION": timedelta(days=30),
        # Argon2 parameters (an argon2.Parameters); None: argon2-cffi's defaults (RFC 9106 low
        # memory). Deliberately not read from the environment: only tests lower it.
        "ARGON2_PARAMETERS": None,
        "RATELIMIT_ENABLED": True,  # tests and benchmarks may turn the limits off
        "WTF_CSRF_TIME_LIMIT": None,
        # Custom domains (lavish/domains/): resolvers as ip or ip:port; empty = the system's.
        "DNS_RESOLVERS": _env_list("DNS_RESOLVERS"),
        # Where owners point their names: a CNAME for subdomains (default: SITES_HOST, else
        # PUBLIC_URL's host), A/AAAA for apexes (no AAAA: owners are told to remove theirs).
        "DOMAINS_CNAME_TARGET": os.environ.get("DOMAINS_CNAME_TARGET") or None,
        "DOMAINS_A_RECORDS": _env_list("DOMAINS_A_RECORDS"),
        "DOMAINS_AAAA_RECORDS": _env_list("DOMAINS_AAAA_RECORDS"),
        "DOMAINS_PER_SITE": _env_int("DOMAINS_PER_SITE", 2),
        "DOMAINS_REDIRECT_PATHS": _env_bool("DOMAINS_REDIRECT_PATHS", True),
        "DOMAIN_PENDING_DAYS": _env_int("DOMAIN_PENDING_DAYS", 7),
        "DOMAIN_FAILING_DAYS": _env_int("DOMAIN_FAILING_DAYS", 3),
        "DOMAIN_RELEASE_DAYS": _env_int("DOMAIN_RELEASE_DAYS", 30),
        # The CA that CAA records must allow; where the check job probes HTTPS (host[:port],
        # default the domain's own address); who may call /tls/ask.
        "ACME_CA": os.environ.get("ACME_CA") or "letsencrypt.org",
        "TLS_PROBE_ADDR": os.environ.get("TLS_PROBE_ADDR") or None,
        "TLS_ASK_ALLOW": _env_list("TLS_ASK_ALLOW", "127.0.0.1,::1"),
        # More host names that are the portal's own (never a customer's domain).
        "PORTAL_HOSTS": _env_list("PORTAL_HOSTS"),
        # Run (as a job) after the domain map for Nginx was rewritten, e.g. "sudo nginx -s reload".
        "NGINX_RELOAD_COMMAND": os.environ.get("NGINX_RELOAD_COMMAND") or None,
        "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
        **_edit_request_settings(instance_path),
    }


def _edit_request_settings(instance_path: Path) -> dict:
    """Edit requests (lavish.edits): limits, the drafting agent, previews."""
    return {
        "EDIT_REQUESTS_OPEN_MAX": _env_int("EDIT_REQUESTS_OPEN_MAX", 5),
        "EDIT_REQUESTS_PER_MONTH": _env_int("EDIT_REQUESTS_PER_MONTH", 10),
        "EDIT_REQUEST_SLA_HOURS": _env_int("EDIT_REQUEST_SLA_HOURS", 48),
        "EDIT_ATTACHMENTS_DIR": os.environ.get("EDIT_ATTACHMENTS_DIR")
        or str(instance_path / "edit-attachments"),
        "EDIT_ATTACHMENT_MAX_BYTES": _env_int("EDIT_ATTACHMENT_MAX_BYTES", 5 * 1024 * 1024),
        "EDIT_ATTACHMENT_MAX_PIXELS": _env_int("EDIT_ATTACHMENT_MAX_PIXELS", 40_000_000),
        "PREVIEW_DAYS": _env_int("PREVIEW_DAYS", 30),
        "EDIT_UNDO_DAYS": _env_int("EDIT_UNDO_DAYS", 30),
        # rules (deterministic, no network) | openai | anthropic | off (everything to staff)
        "EDIT_AGENT": os.environ.get("EDIT_AGENT") or "rules",
        "EDIT_AGENT_URL": os.environ.get("EDIT_AGENT_URL") or None,
        "EDIT_AGENT_API_KEY": os.environ.get("EDIT_AGENT_API_KEY") or None,
        "EDIT_AGENT_MODEL": os.environ.get("EDIT_AGENT_MODEL") or "",
        "EDIT_AGENT_RETRIES": _env_int("EDIT_AGENT_RETRIES", 2),
        "EDIT_AGENT_TIMEOUT": _env_int("EDIT_AGENT_TIMEOUT", 120),
        "EDIT_AGENT_MAX_CONTEXT_BYTES": _env_int("EDIT_AGENT_MAX_CONTEXT_BYTES", 60_000),
        # A draft's text files: per file and in total (what an edit may add).
        "EDIT_MAX_FILE_BYTES": _env_int("EDIT_MAX_FILE_BYTES", 1024 * 1024),
        "EDIT_MAX_DRAFT_BYTES": _env_int("EDIT_MAX_DRAFT_BYTES", 8 * 1024 * 1024),
    }
