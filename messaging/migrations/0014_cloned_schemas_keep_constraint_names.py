"""Schemas cloned before organizations.schema_names existed carry other names for their unique
constraints than the template (message_sid_unique as messaging_message_sid_key): give them the
template's names, so that later migrations can find them by name in every schema."""

from django.conf import settings
from django.db import migrations

from organizations.schema_names import restore_constraint_names


def restore_names(apps, schema_editor):
    restore_constraint_names(settings.TENANT_BASE_SCHEMA, schema_editor.connection.schema_name)


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0013_import_keys_without_row_checks"),
    ]

    operations = [
        migrations.RunPython(restore_names, migrations.RunPython.noop, elidable=True),
    ]
