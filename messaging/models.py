"""An organization's subscribers and its messages. Every table here lives in the organization's
own schema: another organization cannot reach it even through a bug in a filter."""

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import Value
from django.db.models.functions import Replace, Reverse
from django.utils import timezone as django_timezone

from messaging.media import campaign_media_name


class AppendOnlyQuerySet(models.QuerySet):
    def delete(self):
        raise TypeError(f"{self.model.__name__} is append-only")


class Contact(models.Model):
    class Status(models.TextChoices):
        SUBSCRIBED = "subscribed", "Subscribed"
        PENDING = "pending", "Awaiting confirmation"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        NONE = "none", "Not subscribed"

    # Collation "C": byte order suits E.164 and lets LIKE 'prefix%' use btree indexes. Unique by
    # a constraint rather than unique=True, which would add a second (varchar_pattern_ops) index
    # that collation "C" makes useless and every insert would pay for.
    phone = models.CharField(max_length=20, db_collation="C", help_text="E.164, e.g. +13055550143")
    first_name = models.CharField(max_length=80, blank=True)
    last_name = models.CharField(max_length=80, blank=True)
    email = models.CharField(max_length=254, blank=True)
    # IANA zone. Derived from the number when it names a single zone; blank means "use the
    # organization's" (or, for quiet hours, every zone the number may be in).
    timezone = models.CharField(max_length=64, blank=True)
    timezone_is_manual = models.BooleanField(default=False)
    # US state (or other region code) of the number, for state quiet-hours rules (FL, OK).
    region = models.CharField(max_length=8, blank=True)
    # Values of the organization's custom fields, keyed by CustomField.key; numbers as JSON
    # numbers, dates as ISO strings (so they compare correctly in SQL).
    custom_fields = models.JSONField(default=dict, blank=True)
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    # Derived from the consent events, always in the same transaction (services.record_consent).
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NONE)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # Engagement, kept here (updated in bulk) so segments never scan the messages table.
    last_campaign_at = models.DateTimeField(null=True, blank=True)
    last_replied_at = models.DateTimeField(null=True, blank=True)
    # Set when the organization first texts this contact: that first text must name the
    # business and say how to opt out.
    first_messaged_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    # Words of the name and email for prefix search; the email also split at "@" and "." so
    # that "rosa@exam" finds rosa@example.com.
    search_document = models.GeneratedField(
        expression=SearchVector(
            "first_name",
            "last_name",
            "email",
            Replace(Replace("email", Value("@"), Value(" ")), Value("."), Value(" ")),
            config="simple",
        ),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["phone"], name="contact_phone_unique")]
        indexes = [
            GinIndex(fields=["tags"], name="contact_tags_gin"),
            GinIndex(fields=["search_document"], name="contact_search_gin"),
            models.Index(fields=["status", "-id"], name="contact_status_id"),
            # Phone search by its last digits ("0143") is a prefix search on the reversed number.
            models.Index(Reverse("phone"), name="contact_phone_reversed"),
            # Engagement segments ("received a campaign in the last 30 days", "ever replied")
            # look for contacts that have a date; most have none, and an import adds a million
            # without. Partial indexes skip them: smaller, and nothing to write for them.
            models.Index(
                fields=["last_campaign_at"],
                name="contact_last_campaign",
                condition=models.Q(last_campaign_at__isnull=False),
            ),
            models.Index(
                fields=["last_replied_at"],
                name="contact_last_replied",
                condition=models.Q(last_replied_at__isnull=False),
            ),
        ]

    def __str__(self):
        return self.display_name

    @property
    def full_name(self):
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    @property
    def display_name(self):
        return self.full_name or self.phone

    @property
    def can_receive_marketing(self):
        return self.status == self.Status.SUBSCRIBED


class ConsentEvent(models.Model):
    """Append-only evidence of every opt-in and opt-out: when, how, the exact wording shown and
    the source. Keyed by phone as well as contact, so an opt-out outlives a deleted contact."""

    class Kind(models.TextChoices):
        OPT_IN = "opt_in", "Opted in"
        OPT_OUT = "opt_out", "Opted out"
        CONFIRMATION_REQUESTED = "confirmation_requested", "Asked to confirm (double opt-in)"

    class Method(models.TextChoices):
        IMPORT = "import", "Import with declared consent"
        KEYWORD = "keyword", "Text keyword"
        WEB_FORM = "web_form", "Web sign-up form"
        API = "api", "API"
        MANUAL = "manual", "Entered by a team member"
        CARRIER = "carrier", "Reported by the carrier"

    # Indexed by consent_contact_time (contact first) and consent_phone_latest below; the default
    # single-column and pattern indexes would only slow down every insert (imports add millions).
    # No database constraint: the evidence is keyed by phone and outlives its contact (Django sets
    # this to NULL when the contact is deleted), and checking the key row by row was 8% of an
    # import's database time (see ContactListMembership).
    contact = models.ForeignKey(
        Contact,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="consent_events",
        db_index=False,
        db_constraint=False,
    )
    phone = models.CharField(max_length=20)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    method = models.CharField(max_length=16, choices=Method.choices)
    wording = models.TextField(blank=True, help_text="The exact disclosure or message shown")
    source = models.CharField(max_length=255, blank=True, help_text="Keyword, file name, page…")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    # A person in the public schema; no database constraint across schemas.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    occurred_at = models.DateTimeField(default=django_timezone.now)
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["contact", "-occurred_at"], name="consent_contact_time"),
            # A number's latest event (has it opted out?) is the first entry for its phone.
            models.Index(fields=["phone", "-occurred_at", "-id"], name="consent_phone_latest"),
        ]

    def __str__(self):
        return f"{self.phone} {self.kind} via {self.method} at {self.occurred_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("Consent events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Consent events are append-only")


class Tag(models.Model):
    """The organization's tags. Contacts hold tag names in an array (GIN-indexed), so filtering
    a million contacts by tag needs no join."""

    name = models.CharField(max_length=50, unique=True)
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class ContactList(models.Model):
    """A static list: contacts are added and removed explicitly."""

    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)
    contacts = models.ManyToManyField(
        Contact, through="ContactListMembership", related_name="lists", blank=True
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class ContactListMembership(models.Model):
    # Indexed by one_membership (list first) and list_membership_contact: no default FK indexes.
    # No database constraints either. An import adds a million memberships, and PostgreSQL checks
    # (and locks) the list and the contact of each, one row at a time: 15% of the import's
    # database time, to confirm ids the same statement has just read or inserted. Django still
    # deletes a contact's or a list's memberships with it (on_delete). A running import's list
    # cannot go: its job row, locked for the whole import, keeps a constrained key to it.
    contact_list = models.ForeignKey(
        ContactList, on_delete=models.CASCADE, db_index=False, db_constraint=False
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, db_index=False, db_constraint=False
    )
    added_at = models.DateTimeField(default=django_timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact_list", "contact"], name="one_membership")
        ]
        indexes = [models.Index(fields=["contact"], name="list_membership_contact")]

    def __str__(self):
        return f"{self.contact_id} in {self.contact_list_id}"


class Segment(models.Model):
    """A dynamic audience: rules over fields, tags, lists, status, dates and engagement,
    evaluated when used (see messaging/segments.py for the rule language)."""

    name = models.CharField(max_length=100, unique=True)
    rules = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class CustomField(models.Model):
    class Type(models.TextChoices):
        TEXT = "text", "Text"
        NUMBER = "number", "Number"
        DATE = "date", "Date"

    key = models.SlugField(max_length=40, unique=True, help_text="Used in merge fields: {key}")
    label = models.CharField(max_length=80)
    type = models.CharField(max_length=8, choices=Type.choices, default=Type.TEXT)
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)

    class Meta:
        ordering = ["label"]

    def __str__(self):
        return self.label


DEFAULT_OPT_OUT_REPLY = (
    "{business}: You are unsubscribed and will receive no more messages. Reply START to "
    "resubscribe."
)
DEFAULT_OPT_IN_REPLY = (
    "{business}: You are subscribed again. Msg frequency varies. Msg & data rates may apply. "
    "Reply HELP for help, STOP to opt out."
)
DEFAULT_HELP_REPLY = (
    "{business}: Reply to this number to reach us{contact}. Msg & data rates may apply. "
    "Reply STOP to opt out."
)
DEFAULT_CONFIRMATION_PROMPT = (
    "{business}: Reply Y to confirm you want our marketing texts. Msg frequency varies. "
    "Msg & data rates may apply. Reply HELP for help, STOP to opt out."
)
DEFAULT_WELCOME = (
    "{business}: Thanks, you are subscribed! Msg frequency varies. Msg & data rates may apply. "
    "Reply HELP for help, STOP to opt out."
)
DEFAULT_DISCLOSURE = (
    "By subscribing you agree to receive recurring automated marketing text messages from "
    "{business} at the number provided. Consent is not a condition of purchase. Msg frequency "
    "varies. Msg & data rates may apply. Reply HELP for help and STOP to cancel."
)


class ComplianceSettings(models.Model):
    """One row per organization: its keyword replies, join keywords and quiet hours. Texts may
    use {business} (the organization's name) and {contact} (its support contact)."""

    opt_out_reply = models.TextField(default=DEFAULT_OPT_OUT_REPLY)
    opt_in_reply = models.TextField(default=DEFAULT_OPT_IN_REPLY)
    help_reply = models.TextField(default=DEFAULT_HELP_REPLY)
    confirmation_prompt = models.TextField(default=DEFAULT_CONFIRMATION_PROMPT)
    welcome_message = models.TextField(default=DEFAULT_WELCOME)
    signup_disclosure = models.TextField(default=DEFAULT_DISCLOSURE)
    join_keywords = ArrayField(models.CharField(max_length=30), default=list, blank=True)
    support_contact = models.CharField(
        max_length=120, blank=True, help_text="Email or phone shown in HELP replies"
    )
    attach_contact_card = models.BooleanField(
        default=True,
        help_text="Send your contact card with the welcome message, so new subscribers can "
        "save your number with one tap",
    )
    # Narrower than the legal window only (8am-9pm, 8pm in FL/OK): the law is the outer bound.
    quiet_hours_start = models.TimeField(null=True, blank=True)
    quiet_hours_end = models.TimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "compliance settings"

    def __str__(self):
        return "Compliance settings"


class Campaign(models.Model):
    """What to send, to whom and when. Each time it is sent (once, or each occurrence of a
    recurring campaign) is a CampaignRun with its own recipients and statistics."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        SENDING = "sending", "Sending"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Sent"
        CANCELED = "canceled", "Canceled"

    class Schedule(models.TextChoices):
        NOW = "now", "Send now"
        LATER = "later", "At a date and time"
        LOCAL = "local", "At a time in each recipient's own time zone"
        RECURRING = "recurring", "Repeat"

    class Repeat(models.TextChoices):
        DAILY = "daily", "Every day"
        WEEKLY = "weekly", "Every week"
        MONTHLY = "monthly", "Every month"

    name = models.CharField(max_length=120)
    body = models.TextField(max_length=1600)
    media = models.FileField(upload_to=campaign_media_name, blank=True)
    attach_contact_card = models.BooleanField(default=False)
    # Audience: anyone in any of these, minus anyone in the exclusions. Only subscribed
    # contacts ever receive it, each once.
    lists = models.ManyToManyField(ContactList, blank=True, related_name="campaigns")
    segments = models.ManyToManyField(Segment, blank=True, related_name="campaigns")
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    send_to_all = models.BooleanField(default=False, help_text="All subscribed contacts")
    exclude_lists = models.ManyToManyField(ContactList, blank=True, related_name="+")
    exclude_segments = models.ManyToManyField(Segment, blank=True, related_name="+")
    exclude_tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    # When.
    schedule = models.CharField(max_length=10, choices=Schedule.choices, default=Schedule.NOW)
    send_at = models.DateTimeField(null=True, blank=True, help_text="For 'at a date and time'")
    local_date = models.DateField(null=True, blank=True)
    local_time = models.TimeField(null=True, blank=True)
    repeat = models.CharField(max_length=10, choices=Repeat.choices, blank=True)
    repeat_weekday = models.PositiveSmallIntegerField(null=True, blank=True)  # 0 = Monday
    repeat_day = models.PositiveSmallIntegerField(null=True, blank=True)  # day of the month
    # The django-celery-beat PeriodicTask (public schema) that fires it.
    periodic_task_id = models.IntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.name


class CampaignRun(models.Model):
    """One sending of a campaign. Its text is copied from the campaign when it starts, so
    editing the campaign never changes what a past run sent or its statistics."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        SENDING = "sending", "Sending"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Sent"
        CANCELED = "canceled", "Canceled"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    # The occurrence this run is for: unique, so a schedule firing twice starts one run.
    occurrence = models.DateTimeField()
    body = models.TextField()
    media_urls = ArrayField(models.URLField(max_length=500), default=list, blank=True)
    per_recipient_time = models.BooleanField(default=False)
    paused_reason = models.CharField(max_length=255, blank=True)
    recipients = models.PositiveIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)

    class Meta:
        ordering = ["-occurrence", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "occurrence"], name="one_run_per_occurrence"
            )
        ]

    def __str__(self):
        return f"{self.campaign} @ {self.occurrence:%Y-%m-%d %H:%M}"


class Message(models.Model):
    """One text, in or out. Outbound rows are created before sending (one per recipient for a
    campaign) and move forward through their statuses; inbound rows are stored as received."""

    class Direction(models.TextChoices):
        INBOUND = "in", "Received"
        OUTBOUND = "out", "Sent"

    class Kind(models.TextChoices):
        CAMPAIGN = "campaign", "Campaign"
        AUTO_REPLY = "auto_reply", "Automatic reply"
        CONVERSATION = "conversation", "Conversation"
        TEST = "test", "Test message"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to send"
        SENDING = "sending", "Sending"
        QUEUED = "queued", "Queued at the carrier"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        UNDELIVERED = "undelivered", "Not delivered"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Not sent"
        CANCELED = "canceled", "Canceled"
        RECEIVED = "received", "Received"

    direction = models.CharField(max_length=3, choices=Direction.choices)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Every status change rewrites a message's entry in each of its indexes (thousands a second
    # during a campaign), so it has none that another already covers: the contact's is
    # message_contact_time's first column, the run's message_run_status's.
    contact = models.ForeignKey(
        Contact,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
        db_index=False,
    )
    run = models.ForeignKey(
        CampaignRun,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="messages",
        db_index=False,
    )
    to_phone = models.CharField(max_length=20)
    from_phone = models.CharField(max_length=20, blank=True)
    body = models.TextField(blank=True)
    media_urls = ArrayField(models.URLField(max_length=500), default=list, blank=True)
    # Unique by a constraint: unique=True would add a pattern index no lookup uses.
    sid = models.CharField(max_length=40, null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    error_code = models.IntegerField(null=True, blank=True)
    error_reason = models.CharField(max_length=255, blank=True)
    # What it costs: one message per segment (set when rendered for sending).
    segments = models.PositiveSmallIntegerField(null=True, blank=True)
    # Not before this instant (quiet hours, or a recipient's own local time).
    send_after = models.DateTimeField(null=True, blank=True)
    # Set when a dispatcher claims the row, committed before the provider is called: a row
    # left "sending" by a crash is reconciled with the provider, never blindly resent.
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Which dispatcher claimed it: that dispatcher holds a PostgreSQL advisory lock on this token
    # for as long as it lives, so a row is only reconciled once its claimer is gone.
    claim_token = models.IntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["contact", "-created_at"], name="message_contact_time"),
            # A sending number's daily volume (delivery health rollup).
            models.Index(
                fields=["from_phone", "created_at"],
                name="message_sender_time",
                condition=models.Q(direction="out"),
            ),
            # A run's live counts, and its next batch to send; with the time of the last change,
            # its recent deliveries (campaign_stats).
            models.Index(fields=["run", "status", "status_changed_at"], name="message_run_status"),
            models.Index(
                fields=["run", "send_after", "id"],
                name="message_run_due",
                condition=models.Q(status="pending"),
            ),
            # Single texts not yet with Twilio, for the sweeper (delivery.sweep_unsent); no
            # campaign row is ever in it.
            models.Index(
                fields=["created_at"],
                name="message_single_unsent",
                condition=models.Q(run__isnull=True, status__in=["pending", "sending"]),
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["sid"], name="message_sid_unique"),
            # Materialising a run twice (a retried task) never texts anyone twice.
            models.UniqueConstraint(
                fields=["run", "contact"],
                name="one_message_per_recipient_per_run",
                condition=models.Q(run__isnull=False),
            ),
        ]

    def __str__(self):
        other = self.to_phone if self.direction == self.Direction.OUTBOUND else self.from_phone
        return f"{self.get_direction_display()} {other}"


# --- Twilio status callbacks ------------------------------------------------------------------
class MessageStatusEvent(models.Model):
    """One status callback Twilio sent about one of our messages, kept as received
    (append-only). Callbacks can arrive twice, late or out of order; one row per (message,
    status) makes storing them idempotent, and whoever applies them to messages decides which
    status wins (statuses only move forward)."""

    message_sid = models.CharField(max_length=34)
    status = models.CharField(max_length=20)
    error_code = models.PositiveIntegerField(null=True, blank=True)
    payload = models.JSONField(help_text="Every field of the callback, as received.")
    received_at = models.DateTimeField(default=django_timezone.now, editable=False)

    class Meta:
        ordering = ["received_at", "id"]
        # Two rows a message arrive during a campaign: no index beyond the one idempotency needs
        # (which also finds a message's events) and the key.
        constraints = [
            models.UniqueConstraint(
                fields=["message_sid", "status"], name="one_status_event_per_message_status"
            )
        ]

    def __str__(self):
        return f"{self.message_sid} {self.status}"


class ImportJob(models.Model):
    """One upload of a contact file, from its column mapping to its report. The id is a UUID: it
    names the upload in URLs and in storage, where a guessable number would invite probing."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded", "Waiting for the column mapping"
        QUEUED = "queued", "Importing"
        DONE = "done", "Imported"
        FAILED = "failed", "Failed: nothing was imported"

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "Excel workbook"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UPLOADED)
    # The uploaded file in default_storage (per organization); blank once it has been deleted.
    stored_file = models.CharField(max_length=255, blank=True)
    file_name = models.CharField(max_length=255, help_text="As uploaded")
    file_size = models.BigIntegerField(default=0)
    file_format = models.CharField(max_length=8, choices=Format.choices)
    # How the file reads, found when it was uploaded.
    encoding = models.CharField(max_length=20, blank=True)
    delimiter = models.CharField(max_length=1, blank=True)
    has_header = models.BooleanField(default=True)
    columns = models.JSONField(default=list, help_text="Column names, as in the file")
    # One target per column: "phone", "first_name", ..., "custom:<key>" or "ignore".
    mapping = models.JSONField(default=list)
    consent_wording = models.TextField(blank=True, help_text="Stored on every consent event")
    contact_list = models.ForeignKey(
        ContactList, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    rows_total = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, help_text="Why it failed, for the person who ran it")
    # A person in the public schema; no database constraint across schemas.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Import of {self.file_name}"

    @property
    def is_finished(self):
        return self.status in (self.Status.DONE, self.Status.FAILED)


class ImportRejection(models.Model):
    """A row of an import that was not imported, and why: the report lists every one."""

    class Reason(models.TextChoices):
        INVALID_PHONE = "invalid_phone", "Invalid phone number"
        DUPLICATE = "duplicate", "Duplicate of an earlier row"
        NO_CONSENT = "no_consent", "No consent"
        OPTED_OUT = "opted_out", "Opted out before (STOP)"

    job = models.ForeignKey(
        ImportJob, on_delete=models.CASCADE, related_name="rejections", db_index=False
    )
    line = models.PositiveIntegerField(help_text="Line (CSV) or row (Excel) in the file")
    phone = models.CharField(max_length=100, blank=True, help_text="As written in the file")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    detail = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["line"]
        indexes = [models.Index(fields=["job", "line"], name="import_rejection_job_line")]

    def __str__(self):
        return f"line {self.line}: {self.get_reason_display()}"
