"""Forms of the staff actions. Field names are the console's own (CONTRACT §4 fixes none)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import EmailField, IntegerField, RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional

from lavish.inputs import MAX_ID, NoControlCharacters
from lavish.models import Site


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def _lower_strip(value: str | None) -> str | None:
    return value.strip().lower() if isinstance(value, str) else value


class NewSiteForm(FlaskForm):
    slug = StringField(
        "Slug (its address: /slug/)",
        filters=[_lower_strip],
        validators=[
            NoControlCharacters(),
            DataRequired("Choose the site's address."),
            Length(max=63),
        ],
    )
    business_name = StringField(
        "Business name",
        filters=[_strip],
        validators=[
            NoControlCharacters(),
            DataRequired("Give the business's name."),
            Length(max=200),
        ],
    )
    phone = StringField(
        "Phone", filters=[_strip], validators=[NoControlCharacters(), Optional(), Length(max=40)]
    )
    email = EmailField(
        "Business email",
        filters=[_lower_strip],
        validators=[
            NoControlCharacters(),
            Optional(),
            Email("That is not an email address."),
            Length(max=254),
        ],
    )
    city = StringField(
        "City", filters=[_strip], validators=[NoControlCharacters(), Optional(), Length(max=120)]
    )
    category = StringField(
        "Category",
        filters=[_strip],
        validators=[NoControlCharacters(), Optional(), Length(max=120)],
    )
    archive = FileField("Zip of the site (index.html at its top)")
    folder = StringField(
        "…or a folder on the server",
        filters=[_strip],
        validators=[NoControlCharacters(), Optional(), Length(max=200)],
    )
    note = StringField(
        "Note", filters=[_strip], validators=[NoControlCharacters(), Optional(), Length(max=500)]
    )


class PublishForm(FlaskForm):
    archive = FileField("Zip of the new version")
    note = StringField(
        "What changed",
        filters=[_strip],
        validators=[NoControlCharacters(), Optional(), Length(max=500)],
    )


class RollbackForm(FlaskForm):
    version = IntegerField(
        "Version",
        validators=[InputRequired("Choose a version."), NumberRange(1, MAX_ID, "No such version.")],
    )


class ReasonForm(FlaskForm):
    reason = StringField(
        "Reason",
        filters=[_strip],
        validators=[DataRequired("Say why (the owner may be told)."), Length(max=500)],
    )


class SuspendForm(ReasonForm):
    """`reason` is staff's internal note; `owner_message` is what the owner reads (on their
    page and in the mail), a plain default when left empty."""

    reason = StringField(
        "Internal note (staff only)",
        filters=[_strip],
        validators=[DataRequired("Say why (for staff; the owner never sees it)."), Length(max=500)],
    )
    owner_message = TextAreaField(
        "Message to the owner (optional)",
        filters=[_strip],
        validators=[Optional(), Length(max=500)],
    )


class TransferForm(FlaskForm):
    email = EmailField(
        "New owner's email",
        filters=[_lower_strip],
        validators=[
            DataRequired("Give the new owner's email."),
            Email("That is not an email address."),
            Length(max=254),
        ],
    )


class CancelSubscriptionForm(FlaskForm):
    reason = StringField(
        "Reason",
        filters=[_strip],
        validators=[DataRequired("Say why the subscription is cancelled."), Length(max=500)],
    )
    at_period_end = RadioField(
        "When",
        choices=[("1", "At the end of the period"), ("0", "Now")],
        default="1",
        validators=[InputRequired("Choose when.")],
    )


class RefundForm(FlaskForm):
    reason = StringField(
        "Reason",
        filters=[_strip],
        validators=[DataRequired("Say why the order is refunded."), Length(max=500)],
    )


def site_forms(site: Site) -> dict[str, FlaskForm]:
    """Empty forms for the site page (each POSTs to its own action)."""
    return {
        "publish": PublishForm(formdata=None),
        "suspend": SuspendForm(formdata=None),
        "unsuspend": ReasonForm(formdata=None),
        "transfer": TransferForm(formdata=None),
    }
