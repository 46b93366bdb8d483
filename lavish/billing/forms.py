from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional

from lavish.accounts import validation as rules
from lavish.accounts.forms import Check


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class PurchaseForm(FlaskForm):
    """`email` and `name` are asked only of buyers who are not signed in."""

    email = EmailField(
        "Email",
        filters=[_strip],
        validators=[
            DataRequired("Please enter your email address."),
            Email("Please enter a valid email address."),
            Length(max=254),
        ],
    )
    name = StringField(
        "Your name",
        filters=[_strip],
        # The rules register and profile apply (no control characters, at most 120).
        validators=[Check(lambda form, value: rules.name_problem(value))],
    )


class SiteForm(FlaskForm):
    site = HiddenField("Site", validators=[DataRequired("Which site?")])


class CancelForm(FlaskForm):
    site = HiddenField("Site", validators=[DataRequired("Which site?")])
    at_period_end = RadioField(
        "When",
        choices=[("1", "At the end of the paid period"), ("0", "Now")],
        default="1",
        validators=[DataRequired("Please choose when to cancel.")],
    )
    reason = TextAreaField(
        "Reason (optional)",
        validators=[Optional(), Length(max=500, message="Please keep it under 500 characters.")],
    )
