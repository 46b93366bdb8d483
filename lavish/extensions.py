"""Extensions, unbound; create_app() binds them."""

from flask_htmx import HTMX
from flask_login import LoginManager
from flask_mail import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints so Alembic migrations are stable and SQLite batch mode works.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def session_scope() -> tuple[int, int]:
    """Whose `db.session` this is: the innermost app context's, and within it each request's
    own. In production every request pushes its own app context anyway; a test's requests run
    inside the test's app context and still get a session of their own, as in production. A
    job run in-process after a commit pushes a fresh app context: a session of its own too."""
    from flask.globals import _cv_request, app_ctx

    request_context = _cv_request.get(None)
    app_context = app_ctx._get_current_object()  # outside one: "working outside of app context"
    return id(app_context), id(request_context) if request_context is not None else 0


db = SQLAlchemy(model_class=Base, session_options={"scopefunc": session_scope})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
mail = Mail()
htmx = HTMX()
