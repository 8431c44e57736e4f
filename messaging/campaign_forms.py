"""The campaign composer's form: text, image, audience and schedule."""

import os

from django import forms
from django.core.exceptions import ValidationError

from messaging.media import IMAGE_TYPES, MAX_IMAGE_BYTES
from messaging.models import Campaign, ContactList, Segment
from messaging.services import normalize_tags

WEEKDAYS = [(i, name) for i, name in enumerate(
    ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
)]  # fmt: skip


class TagsField(forms.CharField):
    def to_python(self, value):
        return normalize_tags((value or "").split(","))

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list | tuple) else value


class CampaignForm(forms.ModelForm):
    tags = TagsField(required=False, help_text="Contacts with any of these tags")
    exclude_tags = TagsField(required=False, label="Except contacts tagged")
    send_at = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        label="Date and time",
        help_text="In your workspace's time zone",
    )

    class Meta:
        model = Campaign
        fields = [
            "name", "body", "media", "attach_contact_card",
            "send_to_all", "lists", "segments", "tags",
            "exclude_lists", "exclude_segments", "exclude_tags",
            "schedule", "send_at", "local_date", "local_time",
            "repeat", "repeat_weekday", "repeat_day",
        ]  # fmt: skip
        widgets = {
            "body": forms.Textarea(attrs={"rows": 5, "maxlength": 1600, "data-counter": "1"}),
            "lists": forms.CheckboxSelectMultiple,
            "segments": forms.CheckboxSelectMultiple,
            "exclude_lists": forms.CheckboxSelectMultiple,
            "exclude_segments": forms.CheckboxSelectMultiple,
            "schedule": forms.RadioSelect,
            "local_date": forms.DateInput(attrs={"type": "date"}),
            "local_time": forms.TimeInput(attrs={"type": "time"}),
            "repeat_weekday": forms.Select(choices=[("", "—"), *WEEKDAYS]),
            "repeat_day": forms.NumberInput(attrs={"min": 1, "max": 28}),
        }
        labels = {
            "body": "Message",
            "media": "Image (optional)",
            "attach_contact_card": "Attach your contact card, so subscribers can save your number",
            "send_to_all": "All subscribed contacts",
            "exclude_lists": "Except contacts in lists",
            "exclude_segments": "Except contacts in segments",
            "schedule": "When",
            "local_date": "Date",
            "local_time": "Time of day",
            "repeat_weekday": "On",
            "repeat_day": "Day of the month",
        }
        help_texts = {
            "body": "Personalise with {first_name} or {first_name|there} (with a fallback), "
            "and your custom fields.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("lists", "exclude_lists"):
            self.fields[name].queryset = ContactList.objects.all()
        for name in ("segments", "exclude_segments"):
            self.fields[name].queryset = Segment.objects.all()

    def clean_media(self):
        media = self.cleaned_data.get("media")
        if media and hasattr(media, "size"):
            extension = os.path.splitext(media.name)[1].lower()
            if extension not in IMAGE_TYPES:
                raise ValidationError("Use a JPG, PNG or GIF image.")
            if media.size > MAX_IMAGE_BYTES:
                raise ValidationError("Images can be at most 5 MB.")
            head = media.read(12)
            media.seek(0)
            if not _looks_like_image(head):
                raise ValidationError("This file is not an image.")
        return media

    def clean(self):
        cleaned = super().clean()
        audience = [cleaned.get(k) for k in ("send_to_all", "lists", "segments", "tags")]
        if not any(audience):
            self.add_error(None, "Choose who receives it: lists, segments, tags, or everyone.")
        return cleaned


def _looks_like_image(head: bytes) -> bool:
    return head.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a"))
