"""Twilio subaccount auth tokens, stored as plain text until now, are encrypted at rest."""

import encrypted_fields.fields
from django.db import migrations


def encrypt_tokens(apps, schema_editor):
    # A plain-text token fails to decrypt and is read as it is; saving it encrypts it.
    TwilioAccount = apps.get_model("a2p", "TwilioAccount")
    for account in TwilioAccount.objects.using(schema_editor.connection.alias).only("auth_token"):
        account.save(update_fields=["auth_token"])


def decrypt_tokens(apps, schema_editor):
    # The field encrypts whatever the ORM writes: plain text goes back in through SQL.
    TwilioAccount = apps.get_model("a2p", "TwilioAccount")
    accounts = TwilioAccount.objects.using(schema_editor.connection.alias).only("auth_token")
    with schema_editor.connection.cursor() as cursor:
        for account in accounts:
            cursor.execute(
                "UPDATE a2p_twilioaccount SET auth_token = %s WHERE id = %s",
                [account.auth_token, account.pk],
            )


class Migration(migrations.Migration):
    dependencies = [
        ("a2p", "0004_registration"),
    ]

    operations = [
        migrations.AlterField(
            model_name="twilioaccount",
            name="auth_token",
            field=encrypted_fields.fields.EncryptedCharField(max_length=64),
        ),
        migrations.RunPython(encrypt_tokens, decrypt_tokens),
    ]
