"""Render a mail from its template pair: ``email/<name>.txt`` (with a ``subject`` block) and
``email/<name>.html``. Links are absolute on PUBLIC_URL (there is no request in a worker)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app
from jinja2 import Template


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def public_url(path: str) -> str:
    return current_app.config["PUBLIC_URL"] + path


def public_url_for(endpoint: str, **values: Any) -> str:
    """Absolute URL of a route on PUBLIC_URL; works in a worker (no request, no SERVER_NAME)."""
    adapter = current_app.url_map.bind("localhost", url_scheme="http")
    return public_url(adapter.build(endpoint, values))


def _template_helpers() -> dict[str, Any]:
    # Imported here: accounts imports this module.
    from lavish.accounts.services import token_url

    return {"public_url": public_url, "public_url_for": public_url_for, "token_url": token_url}


def _render_block(template: Template, block: str, context: dict[str, Any]) -> str:
    return "".join(template.blocks[block](template.new_context(context))).strip()


def render_mail(name: str, context: dict[str, Any]) -> RenderedMail:
    env = current_app.jinja_env
    context = {**_template_helpers(), "config": current_app.config, **context}
    text_template = env.get_template(f"email/{name}.txt")
    html_template = env.get_template(f"email/{name}.html")
    return RenderedMail(
        subject=" ".join(_render_block(text_template, "subject", context).split()),
        text=text_template.render(context),
        html=html_template.render(context),
    )
