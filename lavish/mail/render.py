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


def _render_block(template: Template, block: str, context: dict[str, Any]) -> str:
    return "".join(template.blocks[block](template.new_context(context))).strip()


def render_mail(name: str, context: dict[str, Any]) -> RenderedMail:
    env = current_app.jinja_env
    context = {"public_url": public_url, "config": current_app.config, **context}
    text_template = env.get_template(f"email/{name}.txt")
    html_template = env.get_template(f"email/{name}.html")
    return RenderedMail(
        subject=" ".join(_render_block(text_template, "subject", context).split()),
        text=text_template.render(context),
        html=html_template.render(context),
    )
