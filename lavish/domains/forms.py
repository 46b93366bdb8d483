from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length


class AddDomainForm(FlaskForm):
    site = SelectField("Site", validators=[DataRequired("Which site?")], validate_choice=True)
    domain = StringField(
        "Domain",
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
        validators=[
            DataRequired("Please enter your domain name, for example example.com."),
            Length(max=1000, message="A domain name has at most 253 characters."),
        ],
    )


class ActionForm(FlaskForm):
    """Check now / remove: only the CSRF token."""
