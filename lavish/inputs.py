"""Input the database cannot hold is refused at the door, not by a database error (a 500).

- `<int:…>` in every route is bounded to the ids' column type (INTEGER: 32 bits signed), so
  /admin/sites/99999999999999999999 is a 404 like any id that does not exist.
- Query arguments and (urlencoded) form fields holding a NUL byte (PostgreSQL refuses it in
  text) or another control character are answered 400; a NUL in the path is a 404 (no page has
  one). Multipart forms (uploads) are read by their view, whose fields use
  `NoControlCharacters`; JSON bodies (webhooks) are checked where they are parsed.
- A `DataError` that still reaches the database (a value out of range or too long for its
  column) is bad input too: 400, logged.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, abort, request
from werkzeug.routing import IntegerConverter, Map

# Primary keys are INTEGER (PostgreSQL's int4): larger numbers name nothing.
MAX_ID = 2**31 - 1

# C0 control characters and DEL, except tab, line feed and carriage return (a textarea's).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class BoundedIntConverter(IntegerConverter):
    """`int`, at most MAX_ID unless the route says otherwise (`<int(max=…):n>`)."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def id_value(raw: str) -> int:
    """`type=` for an id in a query argument: `request.args.get("order", type=id_value)` gives
    the default (None) for anything that cannot be an id."""
    value = int(raw)
    if not 1 <= value <= MAX_ID:
        raise ValueError(f"{raw!r} is not an id")
    return value


def has_control_characters(value: str) -> bool:
    return _CONTROL.search(value) is not None


class NoControlCharacters:
    """WTForms validator for the fields of multipart forms, which the request check leaves to
    the view (an upload's size limit is set by the view before the body is read)."""

    def __init__(self, message: str = "Remove the control characters.") -> None:
        self.message = message

    def __call__(self, form: Any, field: Any) -> None:
        from wtforms.validators import StopValidation

        if isinstance(field.data, str) and has_control_characters(field.data):
            raise StopValidation(self.message)


def _refuse_unstorable_input() -> None:
    if "\x00" in request.path:
        abort(404)
    sources = [request.args]
    if request.mimetype == "application/x-www-form-urlencoded":
        sources.append(request.form)
    for values in sources:
        for key, value in values.items(multi=True):
            if has_control_characters(key) or has_control_characters(value):
                abort(400, description="The request holds control characters we can't accept.")


def init_app(app: Flask) -> None:
    app.url_map.converters["int"] = BoundedIntConverter
    app.before_request(_refuse_unstorable_input)
