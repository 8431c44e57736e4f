"""Contacts out as CSV: the contact list's current filter, streamed (a million contacts never sit
in memory), every cell passed through the formula-safe writer (messaging.spreadsheets)."""

import io

from messaging.models import Contact, CustomField
from messaging.spreadsheets import SafeWriter

ROWS_PER_CHUNK = 2000
# Headers the import recognises, so an exported file imports back as it is.
BASE_COLUMNS = [
    ("phone", "Phone"),
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("email", "Email"),
    ("tags", "Tags"),
    ("timezone", "Time zone"),
    ("status", "Status"),
    ("status_changed_at", "Status since"),
    ("created_at", "Added"),
]


def csv_stream(header, rows, *, byte_order_mark: bool = True):
    """Yield CSV text a few thousand rows at a time. The byte-order mark makes Excel read the
    file as UTF-8 (accents intact)."""
    buffer = io.StringIO()
    writer = SafeWriter(buffer)
    if byte_order_mark:
        buffer.write("\ufeff")
    writer.writerow(header)
    for count, row in enumerate(rows, start=1):
        writer.writerow(row)
        if count % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def contacts_csv(contacts):
    """The contacts of a queryset (e.g. selectors.filter_contacts) as CSV text chunks, newest
    first, with one column per custom field."""
    custom_fields = list(CustomField.objects.order_by("label"))
    header = [label for _, label in BASE_COLUMNS] + [field.label for field in custom_fields]
    statuses = dict(Contact.Status.choices)
    keys = [field.key for field in custom_fields]
    values = contacts.order_by("-id").values_list(
        *[name for name, _ in BASE_COLUMNS], "custom_fields"
    )

    def rows():
        for (
            phone, first_name, last_name, email, tags, zone, status, status_changed_at,
            created_at, custom,
        ) in values.iterator(chunk_size=ROWS_PER_CHUNK):  # fmt: skip
            yield [
                phone,
                first_name,
                last_name,
                email,
                ", ".join(tags),
                zone,
                statuses.get(status, status),
                status_changed_at.isoformat() if status_changed_at else "",
                created_at.isoformat(),
                *[(custom or {}).get(key, "") for key in keys],
            ]

    return csv_stream(header, rows())
