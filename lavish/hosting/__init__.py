from flask import Blueprint

from lavish.hosting.slugs import SiteSlugConverter

bp = Blueprint("hosting", __name__)
# Before the routes below are added: their rules use the converter.
bp.record_once(lambda state: state.app.url_map.converters.setdefault("site", SiteSlugConverter))

from lavish.hosting import routes, services  # noqa: E402,F401  (services: the after-commit hook)
