from django import forms
from django.core.exceptions import ValidationError

from messaging.importing.columns import target_choices, validate_mapping
from messaging.importing.errors import ImportSetupError
from messaging.models import ContactList


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="Contact file",
        help_text="CSV (any delimiter or encoding) or Excel .xlsx, with one contact per row.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.tsv,.xlsx"}),
    )


class ColumnMappingForm(forms.Form):
    """One choice per column of the file: what it holds."""

    def __init__(self, *args, columns, mapping, custom_fields, **kwargs):
        super().__init__(*args, **kwargs)
        self.columns = columns
        self.custom_fields = list(custom_fields)
        choices = target_choices(self.custom_fields)
        for index, column in enumerate(columns):
            self.fields[f"column_{index}"] = forms.ChoiceField(
                label=column, choices=choices, initial=mapping[index] if mapping else None
            )

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            self.mapping = validate_mapping(
                [cleaned[f"column_{i}"] for i in range(len(self.columns))],
                self.columns,
                self.custom_fields,
            )
        except ImportSetupError as exc:
            raise ValidationError(exc.message) from None
        return cleaned

    def column_fields(self):
        return [self[f"column_{i}"] for i in range(len(self.columns))]


class ImportConsentForm(forms.Form):
    """The person's declaration of consent for everyone in the file, and where to put them."""

    consent_confirmed = forms.BooleanField(
        required=True,
        error_messages={
            "required": "Confirm that everyone in this file agreed to receive your marketing "
            "texts. Texting people who did not agree is against the law."
        },
    )
    consent_how = forms.CharField(
        max_length=200,
        label="How did they agree?",
        help_text="For example “signed up at the till” or “ticked the SMS box at checkout”. "
        "Stored word for word with every contact, as your evidence.",
        error_messages={"required": "Say how they agreed: it is your evidence of consent."},
    )
    contact_list = forms.ModelChoiceField(
        queryset=ContactList.objects.none(),
        required=False,
        empty_label="No list",
        label="Add them to a list",
    )
    new_list = forms.CharField(
        max_length=100, required=False, label="…or to a new list", help_text="Name of the list"
    )
    tags = forms.CharField(
        max_length=500, required=False, label="Tag them", help_text="Separate tags with commas"
    )

    def __init__(self, *args, business_name, **kwargs):
        super().__init__(*args, **kwargs)
        self.statement = (
            f"Everyone in this file agreed to receive marketing text messages from {business_name}."
        )
        self.fields["consent_confirmed"].label = self.statement
        self.fields["contact_list"].queryset = ContactList.objects.all()

    def clean_consent_how(self):
        how = " ".join(self.cleaned_data["consent_how"].split())
        if len(how) < 5:
            raise ValidationError("Say how they agreed, in a few words.")
        return how

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("contact_list") and cleaned.get("new_list", "").strip():
            self.add_error("new_list", "Choose a list or name a new one, not both.")
        return cleaned

    @property
    def wording(self) -> str:
        """Exactly what the person declared: stored on every consent event."""
        return f"{self.statement} How they agreed: {self.cleaned_data['consent_how']}"

    @property
    def tag_names(self) -> list[str]:
        return [t for t in (p.strip() for p in self.cleaned_data["tags"].split(",")) if t]
