from flask import Blueprint

bp = Blueprint("hosting", __name__)

from lavish.hosting import routes  # noqa: E402,F401
