from django import forms
from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import ValidationError

from organizations.models import User
from organizations.services import normalize_slug, validate_new_slug


class SignUpForm(forms.Form):
    business_name = forms.CharField(max_length=120, label="Business name")
    slug = forms.CharField(
        max_length=40,
        label="Workspace address",
        help_text="Lowercase letters, digits and hyphens, e.g. bella-boutique.",
    )
    email = forms.EmailField(label="Your email")
    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 10 characters, not a common or all-numeric password.",
    )

    def clean_business_name(self):
        name = self.cleaned_data["business_name"].strip()
        if len(name) < 2:
            raise ValidationError("Enter your business name.")
        return name

    def clean_slug(self):
        slug = normalize_slug(self.cleaned_data["slug"])
        validate_new_slug(slug)
        return slug

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError(
                "An account with this email already exists. Sign in to add a workspace.",
                code="email_taken",
            )
        return email

    def clean(self):
        cleaned = super().clean()
        password = cleaned.get("password")
        if password:
            candidate = User(
                email=cleaned.get("email", ""), full_name=cleaned.get("business_name", "")
            )
            try:
                password_validation.validate_password(password, candidate)
            except ValidationError as exc:
                self.add_error("password", exc)
        return cleaned


class SignInForm(forms.Form):
    email = forms.EmailField(label="Email")
    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, request=None, organization=None, **kwargs):
        self.request = request
        self.organization = organization
        self.user = None
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        email, password = cleaned.get("email"), cleaned.get("password")
        if email and password:
            self.user = authenticate(self.request, username=email, password=password)
            if self.user is None:
                raise ValidationError("That email and password do not match an account.")
            if (
                self.organization is not None
                and not self.user.memberships.filter(organization=self.organization).exists()
            ):
                raise ValidationError(
                    f"This account is not a member of {self.organization.name}. "
                    "Ask one of its owners to invite you."
                )
        return cleaned


class PhoneNumberForm(forms.Form):
    phone = forms.CharField(max_length=40, label="Your mobile number")

    def clean_phone(self):
        from messaging.phones import InvalidPhone, parse_phone

        try:
            return parse_phone(self.cleaned_data["phone"], "US").e164
        except InvalidPhone as exc:
            raise ValidationError(exc.reason) from None


class PhoneCodeForm(forms.Form):
    code = forms.RegexField(
        regex=r"^\s*\d{6}\s*$",
        label="The 6-digit code we texted you",
        error_messages={"invalid": "Enter the 6 digits of the code."},
    )
