from flask import Blueprint

bp = Blueprint("admin", __name__)

from lavish.admin import actions, routes  # noqa: E402,F401
