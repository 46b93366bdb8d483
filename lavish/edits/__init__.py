"""Edit requests: owners ask for changes in plain words; an agent or staff drafts them as site
versions that are not live; the owner reviews a preview and approves; undo restores."""

from flask import Blueprint

bp = Blueprint("edits", __name__)
# The staff pages (/admin/edit-requests) guard themselves like the admin console.
admin_bp = Blueprint("edits_admin", __name__)

from lavish.edits import admin, routes  # noqa: E402,F401
