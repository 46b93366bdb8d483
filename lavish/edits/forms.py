"""Edit-request forms. Field names are the contract's (CONTRACT §4): site, description, page,
attachments (repeatable), comment, revision."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from lavish.edits.services import COMMENT_MAX, DESCRIPTION_MAX


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class NewRequestForm(FlaskForm):
    site = SelectField("Site", choices=[], validate_choice=False)
    description = TextAreaField(
        "What should change?",
        filters=[_strip],
        validators=[
            InputRequired("Describe the change you want."),
            Length(max=DESCRIPTION_MAX, message=f"Use at most {DESCRIPTION_MAX} characters."),
        ],
        description="Be specific: “Our new phone number is (213) 555-0199”, "
        "“Replace ‘Free estimates’ with ‘Free estimates on weekdays’”.",
    )
    page = SelectField("Page (optional)", choices=[("", "Any page")], validate_choice=False)


class CommentForm(FlaskForm):
    comment = TextAreaField(
        "What should be different?",
        filters=[_strip],
        validators=[
            InputRequired("Say what should be different."),
            Length(max=COMMENT_MAX, message=f"Use at most {COMMENT_MAX} characters."),
        ],
    )


class ApproveForm(FlaskForm):
    revision = IntegerField("Revision", validators=[InputRequired()])


class EmptyForm(FlaskForm):
    """A POST with only the CSRF token."""


class StaffMessageForm(FlaskForm):
    message = TextAreaField(
        "Message to the owner",
        filters=[_strip],
        validators=[Optional(), Length(max=COMMENT_MAX)],
    )


class RerunForm(FlaskForm):
    note = TextAreaField("Note for the agent", filters=[_strip],
                         validators=[Optional(), Length(max=COMMENT_MAX)])  # fmt: skip
    agent = StringField("Agent", filters=[_strip], validators=[Optional(), Length(max=20)])
