from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional


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
        validators=[DataRequired("Please enter your name."), Length(max=120, message="Too long.")],
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
