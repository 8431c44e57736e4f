"""The set-based half of an import: clean rows are COPied into a temporary staging table, chunk
by chunk, and each chunk is merged into the contacts with a handful of statements. Everything
runs in the caller's transaction: an import that fails leaves nothing behind, and a worker that
dies takes its transaction (and the temporary table) with it.

An import only ever adds: it fills blank fields, merges tags and custom fields, subscribes
people with the declared consent, and adds them to a list. It never unsubscribes anybody, and
never subscribes a number whose latest consent event is an opt-out (STOP).
"""

from dataclasses import dataclass

from django.db import connection

from messaging.models import ConsentEvent, Contact, ImportRejection

STAGING_COLUMNS = (
    "line", "raw_phone", "phone", "first_name", "last_name", "email", "timezone",
    "timezone_is_manual", "region", "custom_fields", "tags",
)  # fmt: skip
REJECTION_COLUMNS = ("line", "phone", "reason", "detail")

_CREATE_STAGING = """
CREATE TEMPORARY TABLE import_staging (
    line integer NOT NULL,
    raw_phone text NOT NULL,
    phone text COLLATE "C" NOT NULL,
    first_name text NOT NULL,
    last_name text NOT NULL,
    email text NOT NULL,
    timezone text NOT NULL,
    timezone_is_manual boolean NOT NULL,
    region text NOT NULL,
    custom_fields jsonb NOT NULL,
    tags text NOT NULL
) ON COMMIT DROP
"""

# Rows whose number's latest consent event is an opt-out become rejections, not contacts. One
# index probe per row: most numbers of an import have no consent event at all.
_REJECT_OPTED_OUT = f"""
WITH refused AS (
    DELETE FROM import_staging staged
    WHERE (
        SELECT event.kind FROM messaging_consentevent event
        -- The staged phone is collation "C" (like the contact's); compare in the consent
        -- event's own collation, or its index cannot serve the lookup.
        WHERE event.phone = staged.phone COLLATE "default"
        ORDER BY event.occurred_at DESC, event.id DESC
        LIMIT 1
    ) = '{ConsentEvent.Kind.OPT_OUT}'
    RETURNING staged.line, staged.raw_phone
)
INSERT INTO messaging_importrejection (job_id, line, phone, reason, detail)
SELECT %(job)s, line, raw_phone, '{ImportRejection.Reason.OPTED_OUT}', %(opted_out_detail)s
FROM refused
"""  # noqa: S608 - interpolates only the model's own constants

SUBSCRIBED = Contact.Status.SUBSCRIBED
UNSUBSCRIBED = Contact.Status.UNSUBSCRIBED

# One statement per chunk: upsert the contacts (fill blanks, merge tags and custom fields,
# subscribe), append the consent events of those whose status changed, add list memberships,
# and count what happened. An existing contact that nothing would change is not written at all.
_MERGE = f"""
WITH existing AS MATERIALIZED (
    -- The contacts the chunk's numbers already have, by one index probe per row (LIMIT keeps
    -- it a nested loop: a hash join would scan all of the organization's contacts per chunk).
    SELECT staged.phone, found.id, found.status
    FROM import_staging staged
    JOIN LATERAL (
        SELECT contact.id, contact.status FROM messaging_contact contact
        WHERE contact.phone = staged.phone
        LIMIT 1
    ) found ON true
), upserted AS (
    INSERT INTO messaging_contact AS contact (
        phone, first_name, last_name, email, timezone, timezone_is_manual, region,
        custom_fields, tags, status, status_changed_at, created_at, updated_at
    )
    SELECT phone, first_name, last_name, email, timezone, timezone_is_manual, region,
           custom_fields, coalesce(string_to_array(nullif(tags, ''), ','), '{{}}'),
           '{SUBSCRIBED}', now(), now(), now()
    FROM import_staging
    ON CONFLICT (phone) DO UPDATE SET
        first_name = CASE WHEN contact.first_name = '' THEN excluded.first_name
                          ELSE contact.first_name END,
        last_name = CASE WHEN contact.last_name = '' THEN excluded.last_name
                         ELSE contact.last_name END,
        email = CASE WHEN contact.email = '' THEN excluded.email ELSE contact.email END,
        timezone = CASE WHEN excluded.timezone_is_manual AND NOT contact.timezone_is_manual
                            THEN excluded.timezone
                        WHEN contact.timezone = '' THEN excluded.timezone
                        ELSE contact.timezone END,
        timezone_is_manual = contact.timezone_is_manual OR excluded.timezone_is_manual,
        custom_fields = excluded.custom_fields || contact.custom_fields,
        tags = contact.tags || ARRAY(
            SELECT tag FROM unnest(excluded.tags) WITH ORDINALITY AS new(tag, position)
            WHERE tag <> ALL (contact.tags) ORDER BY position
        )::varchar(50)[],
        -- A STOP that arrived while this import ran wins: never re-subscribe.
        status = CASE WHEN contact.status = '{UNSUBSCRIBED}' THEN contact.status
                      ELSE '{SUBSCRIBED}' END,
        status_changed_at = CASE WHEN contact.status IN ('{SUBSCRIBED}', '{UNSUBSCRIBED}')
                                     THEN contact.status_changed_at
                                 ELSE now() END,
        updated_at = now()
    WHERE (contact.first_name = '' AND excluded.first_name <> '')
       OR (contact.last_name = '' AND excluded.last_name <> '')
       OR (contact.email = '' AND excluded.email <> '')
       OR (excluded.timezone_is_manual AND NOT contact.timezone_is_manual)
       OR (contact.timezone = '' AND excluded.timezone <> '')
       OR NOT (contact.custom_fields @> (excluded.custom_fields || contact.custom_fields))
       OR NOT (contact.tags @> excluded.tags)
       OR contact.status NOT IN ('{SUBSCRIBED}', '{UNSUBSCRIBED}')
    RETURNING contact.id, contact.phone
), events AS (
    -- New contacts, and existing ones this import subscribed: their status changed.
    INSERT INTO messaging_consentevent (
        contact_id, phone, kind, method, wording, source, actor_id, occurred_at, created_at
    )
    SELECT upserted.id, upserted.phone, '{ConsentEvent.Kind.OPT_IN}',
           '{ConsentEvent.Method.IMPORT}', %(wording)s, %(source)s, %(actor)s, now(), now()
    FROM upserted LEFT JOIN existing USING (phone)
    WHERE existing.status IS NULL
       OR existing.status NOT IN ('{SUBSCRIBED}', '{UNSUBSCRIBED}')
), memberships AS (
    INSERT INTO messaging_contactlistmembership (contact_list_id, contact_id, added_at)
    SELECT %(list)s, coalesce(existing.id, upserted.id), now()
    FROM import_staging staged
    LEFT JOIN existing USING (phone)
    LEFT JOIN upserted USING (phone)
    WHERE %(list)s::bigint IS NOT NULL
    ON CONFLICT (contact_list_id, contact_id) DO NOTHING
    RETURNING contact_id
)
SELECT
    (SELECT count(*) FROM import_staging) - (SELECT count(*) FROM existing),
    -- Existing contacts that changed, or were added to the list.
    (SELECT count(*) FROM (
        SELECT upserted.id FROM upserted JOIN existing USING (id)
        UNION
        SELECT memberships.contact_id FROM memberships
        JOIN existing ON existing.id = memberships.contact_id
    ) touched),
    (SELECT count(*) FROM import_staging)
"""  # noqa: S608 - interpolates only the model's own constants


@dataclass
class MergeCounts:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    opted_out: int = 0

    def add(self, other: "MergeCounts"):
        self.created += other.created
        self.updated += other.updated
        self.skipped += other.skipped
        self.opted_out += other.opted_out


def create_staging():
    with connection.cursor() as cursor:
        # Enough memory for a chunk's joins and sorts not to spill to disk (this transaction only).
        cursor.execute("SET LOCAL work_mem = '64MB'")
        # Foreign keys (now only the rejections' job: memberships and consent events have none,
        # see ContactListMembership) checked with each chunk's statements, while the reader
        # thread cleans the next chunk, not deferred to the commit with nothing to overlap (9.5 s
        # of a 1,000,000-row import's end when consent events and memberships had them).
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(_CREATE_STAGING)


def refresh_statistics():
    """ANALYZE the tables an import grows, from inside its transaction (so counting its own
    uncommitted rows): after the first chunk, and at the end for the pages that follow the
    import. Without it the planner plans the chunks from no statistics (a new organization) or
    from an autovacuum that ran during the import and saw none of its rows ("0 rows in N
    pages"), and may pick a scan for every row."""
    with connection.cursor() as cursor:
        cursor.execute(
            "ANALYZE messaging_contact, messaging_consentevent, messaging_contactlistmembership"
        )


def drop_staging():
    """Dropped at commit anyway; dropped now so that a second import in the same transaction
    (tests, an operator's script) starts clean."""
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE import_staging")


def copy_rows(table: str, columns, payload: bytes):
    """COPY CSV text (as written by csv.writer with QUOTE_ALL: "" is an empty string, never
    NULL) into ``table``."""
    if not payload:
        return
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)") as copy,
    ):
        copy.write(payload)


def store_rejections(job_id, payload: bytes):
    """Rejected rows (CSV of REJECTION_COLUMNS, with the job id first) into the report."""
    copy_rows("messaging_importrejection", ("job_id", *REJECTION_COLUMNS), payload)


def merge_chunk(job, payload: bytes) -> MergeCounts:
    """Stage one chunk of clean rows and merge it."""
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE import_staging")
    copy_rows("import_staging", STAGING_COLUMNS, payload)
    with connection.cursor() as cursor:
        cursor.execute(
            _REJECT_OPTED_OUT,
            {
                "job": job.pk,
                "opted_out_detail": "they texted STOP (or opted out another way); only they "
                "can opt in again",
            },
        )
        opted_out = cursor.rowcount
        cursor.execute(
            _MERGE,
            {
                "wording": job.consent_wording,
                "source": job.file_name[:255],
                "actor": job.created_by_id,
                "list": job.contact_list_id,
            },
        )
        created, updated, staged = cursor.fetchone()
    return MergeCounts(created, updated, staged - created - updated, opted_out)
