"""Render a mail from its template pair: ``email/<name>.txt`` (with a ``subject`` block) and
``email/<name>.html``. Links are absolute on PUBLIC_URL (there is no request in a worker).

Templates make account links with ``token_url(purpose, user_id)`` (lavish.accounts.links), at
sending. ``render_mail(..., preview=True)`` (the staff console) renders the same mail with
placeholders there, and in any stored value that holds such a link: no working link, no token.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from flask import current_app
from jinja2 import Template

from lavish.accounts.links import link_purpose_in, placeholder_url, token_url
from lavish.urls import public_url, public_url_for


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def _render_block(template: Template, block: str, context: dict[str, Any]) -> str:
    return "".join(template.blocks[block](template.new_context(context))).strip()


def _without_links(context: dict[str, Any]) -> dict[str, Any]:
    return {
        key: placeholder_url(purpose) if (purpose := link_purpose_in(value)) else value
        for key, value in context.items()
    }


def render_mail(name: str, context: dict[str, Any], *, preview: bool = False) -> RenderedMail:
    env = current_app.jinja_env
    helpers = {
        "public_url": public_url,
        "public_url_for": public_url_for,
        # One token per link and mail: its text and HTML parts carry the same link (tokens
        # are timestamped, so two calls a second apart would differ).
        "token_url": placeholder_url if preview else functools.cache(token_url),
    }
    context = {**helpers, "config": current_app.config, **context}
    if preview:
        context = _without_links(context)
    text_template = env.get_template(f"email/{name}.txt")
    html_template = env.get_template(f"email/{name}.html")
    return RenderedMail(
        subject=" ".join(_render_block(text_template, "subject", context).split()),
        text=text_template.render(context),
        html=html_template.render(context),
    )
