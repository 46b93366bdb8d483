"""Buying sites and paying for hosting: offer, checkout, return page, subscriptions, webhooks,
and the sandbox payment provider."""

from flask import Blueprint

bp = Blueprint("billing", __name__)

from lavish.billing import routes  # noqa: E402, F401
