from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

from portal.auth.models import Role
from portal.auth.passwords import MAX_LENGTH, password_problems


class LoginForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired("Enter your email address")])
    password = PasswordField("Password", validators=[DataRequired("Enter your password")])


class NewPasswordMixin:
    email_for_check: str | None = None

    def validate_password(self, field) -> None:
        problems = password_problems(field.data or "", self.email_for_check)
        if problems:
            raise ValidationError(problems[0])


class SetPasswordForm(NewPasswordMixin, FlaskForm):
    password = PasswordField(
        "New password",
        description="8 characters or more. Three or four random words are easy to remember.",
        validators=[DataRequired("Enter a new password"), Length(max=MAX_LENGTH)],
    )
    confirm = PasswordField(
        "Confirm new password",
        validators=[
            DataRequired("Enter the new password again"),
            EqualTo("password", "The passwords do not match"),
        ],
    )


class ChangePasswordForm(SetPasswordForm):
    current_password = PasswordField(
        "Current password", validators=[DataRequired("Enter your current password")]
    )


class ResetRequestForm(FlaskForm):
    email = EmailField(
        "Email address",
        validators=[
            DataRequired("Enter your email address"),
            Email("Enter an email address in the correct format, like name@example.com"),
        ],
    )


class InviteForm(FlaskForm):
    full_name = StringField(
        "Full name", validators=[DataRequired("Enter the person's full name"), Length(max=120)]
    )
    email = EmailField(
        "Email address",
        validators=[
            DataRequired("Enter an email address"),
            Email("Enter an email address in the correct format, like name@example.com"),
            Length(max=254),
        ],
    )
    role = SelectField(
        "Role",
        choices=[SelectChoice("", "Choose a role")]
        + [SelectChoice(value, label) for value, label in Role.choices()],
        validators=[DataRequired("Choose a role")],
    )
    practice_id = SelectField(
        "GP practice",
        coerce=lambda v: int(v) if v else None,
        description="Only for GP practice users",
    )
    organisation_id = SelectField(
        "Organisation",
        coerce=lambda v: int(v) if v else None,
        description="Only for organisation members",
    )

    def validate_practice_id(self, field) -> None:
        if self.role.data == Role.PRACTICE_USER and not field.data:
            raise ValidationError("Choose the practice this person works at")

    def validate_organisation_id(self, field) -> None:
        if self.role.data == Role.ORGANISATION_MEMBER and not field.data:
            raise ValidationError("Choose the organisation this person belongs to")


class CodeForm(FlaskForm):
    code = StringField(
        "Code from your authenticator app",
        description="6 digits. If you have lost your phone, type one of your recovery codes.",
        validators=[
            DataRequired("Enter the 6-digit code from your authenticator app"),
            Length(max=32, message="Enter the 6-digit code from your authenticator app"),
        ],
    )


class SetupCodeForm(FlaskForm):
    code = StringField(
        "Code shown in your app",
        description="6 digits, for example 123456",
        validators=[
            DataRequired("Enter the 6-digit code your app shows"),
            Length(max=32, message="Enter the 6-digit code your app shows"),
        ],
    )
