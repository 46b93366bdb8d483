from flask import Blueprint

bp = Blueprint("hosting", __name__)

from lavish.hosting import routes, services  # noqa: E402,F401  (services: the after-commit hook)
