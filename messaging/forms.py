import zoneinfo

from django import forms
from django.core.exceptions import ValidationError

from messaging.models import ComplianceSettings, ConsentEvent, ContactList, CustomField, Segment

TIMEZONE_CHOICES = [("", "From the phone number")] + [
    (zone, zone.replace("_", " "))
    for zone in sorted(zoneinfo.available_timezones())
    if zone.startswith(("America/", "Pacific/Honolulu", "Europe/", "Australia/", "Asia/"))
]


class ContactForm(forms.Form):
    phone = forms.CharField(max_length=40, help_text="Any format, e.g. (305) 555-0143")
    first_name = forms.CharField(max_length=80, required=False)
    last_name = forms.CharField(max_length=80, required=False)
    email = forms.EmailField(required=False)
    tags = forms.CharField(max_length=500, required=False, help_text="Separate tags with commas")
    timezone_name = forms.ChoiceField(choices=TIMEZONE_CHOICES, required=False, label="Time zone")

    def __init__(self, *args, custom_fields=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.custom_field_defs = list(custom_fields)
        for field in self.custom_field_defs:
            widget = forms.DateInput(attrs={"type": "date"}) if field.type == "date" else None
            self.fields[f"custom__{field.key}"] = forms.CharField(
                label=field.label, required=False, widget=widget
            )

    def clean_tags(self):
        return [t for t in (part.strip() for part in self.cleaned_data["tags"].split(",")) if t]

    def custom_values(self):
        return {
            f.key: self.cleaned_data.get(f"custom__{f.key}", "") for f in self.custom_field_defs
        }


class NewContactForm(ContactForm):
    CONSENT_CHOICES = [
        ("", "No: keep the contact, but do not send marketing texts"),
        (ConsentEvent.Method.MANUAL, "Yes: they asked me in person or in writing"),
    ]
    consent = forms.ChoiceField(
        choices=CONSENT_CHOICES,
        required=False,
        label="Has this person agreed to receive your marketing texts?",
    )
    consent_note = forms.CharField(
        max_length=255,
        required=False,
        label="How did they agree?",
        help_text="E.g. 'signed the in-store form on 3 May'. Kept as evidence.",
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("consent") and not cleaned.get("consent_note", "").strip():
            self.add_error("consent_note", "Say how they agreed: it is your evidence of consent.")
        return cleaned


class ContactListForm(forms.ModelForm):
    class Meta:
        model = ContactList
        fields = ["name", "description"]


class CustomFieldForm(forms.ModelForm):
    class Meta:
        model = CustomField
        fields = ["label", "key", "type"]
        help_texts = {"key": "Lowercase letters, digits, _ or -. Used in messages as {key}."}

    def clean_key(self):
        key = self.cleaned_data["key"].lower()
        if key in {"first_name", "last_name", "email", "phone", "business"}:
            raise ValidationError("That name is already a built-in field.")
        return key


class SegmentForm(forms.ModelForm):
    rules = forms.JSONField(widget=forms.HiddenInput)

    class Meta:
        model = Segment
        fields = ["name", "rules"]


class ComplianceSettingsForm(forms.ModelForm):
    join_keywords = forms.CharField(
        required=False,
        help_text="Words people text to subscribe, separated by commas. JOIN always works.",
    )

    class Meta:
        model = ComplianceSettings
        fields = [
            "support_contact", "attach_contact_card", "quiet_hours_start", "quiet_hours_end",
            "join_keywords",
            "confirmation_prompt", "welcome_message", "opt_out_reply", "opt_in_reply",
            "help_reply", "signup_disclosure",
        ]  # fmt: skip
        widgets = {
            "quiet_hours_start": forms.TimeInput(attrs={"type": "time"}),
            "quiet_hours_end": forms.TimeInput(attrs={"type": "time"}),
            **{
                name: forms.Textarea(attrs={"rows": 3})
                for name in ("confirmation_prompt", "welcome_message", "opt_out_reply",
                             "opt_in_reply", "help_reply", "signup_disclosure")
            },
        }  # fmt: skip
        labels = {
            "quiet_hours_start": "Send no earlier than",
            "quiet_hours_end": "Send no later than",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial["join_keywords"] = ", ".join(self.instance.join_keywords)

    def clean_join_keywords(self):
        words = []
        for part in self.cleaned_data["join_keywords"].split(","):
            word = part.strip().upper()
            if not word:
                continue
            if not word.isalnum() or len(word) > 20:
                raise ValidationError(f"{part.strip()!r}: use one word of letters and digits.")
            if word.lower() in {
                "stop",
                "stopall",
                "unsubscribe",
                "cancel",
                "end",
                "quit",
                "revoke",
                "optout",
                "start",
                "unstop",
                "yes",
                "y",
                "help",
                "info",
            }:
                raise ValidationError(f"{word} is reserved for opt-out, opt-in or help.")
            words.append(word)
        return sorted(set(words))

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("quiet_hours_start"), cleaned.get("quiet_hours_end")
        if start and end and start >= end:
            self.add_error("quiet_hours_end", "The end must be after the start.")
        for name in ("opt_out_reply", "opt_in_reply", "help_reply", "confirmation_prompt"):
            text = cleaned.get(name, "")
            if text and len(text) > 320:
                self.add_error(name, "Keep it under 320 characters (two texts).")
        prompt = cleaned.get("confirmation_prompt", "")
        if prompt and "STOP" not in prompt.upper():
            self.add_error("confirmation_prompt", "Must say how to opt out (e.g. 'Reply STOP').")
        return cleaned


class SignUpPageForm(forms.Form):
    """The public sign-up form on an organization's own page."""

    phone = forms.CharField(max_length=40, label="Mobile number")
    first_name = forms.CharField(max_length=80, required=False, label="First name")
    agree = forms.BooleanField(label="I agree to receive marketing texts on these terms")
