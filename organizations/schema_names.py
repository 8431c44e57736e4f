"""A cloned schema keeps the template's constraint names.

django-tenants clones the template schema table by table with ``CREATE TABLE … (LIKE …
INCLUDING ALL)``, which names every index and constraint afresh. Its clone function gives the
indexes their names back, but not the unique constraints: ``message_sid_unique`` becomes
``messaging_message_sid_key``. A later migration that drops or alters such a constraint by its
name (as Django's RemoveConstraint does) would then fail in every cloned schema, halfway through
a deploy. So, after a clone, each unique constraint is renamed to the template's name for it,
matched by table and definition.
"""

from django.db import connection

# Unique constraints of ``dest`` named otherwise than the one of the same table and definition in
# ``source``, and not already taken by another (a name must be free in the schema to move to).
_MISNAMED = """
    SELECT DISTINCT ON (copy.oid)
           quote_ident(copy_table.relname), quote_ident(copy.conname), quote_ident(original.conname)
      FROM pg_constraint original
      JOIN pg_class original_table ON original_table.oid = original.conrelid
      JOIN pg_namespace original_schema
        ON original_schema.oid = original_table.relnamespace
       AND original_schema.nspname = %(source)s
      JOIN pg_namespace copy_schema ON copy_schema.nspname = %(dest)s
      JOIN pg_class copy_table
        ON copy_table.relnamespace = copy_schema.oid AND copy_table.relname = original_table.relname
      JOIN pg_constraint copy
        ON copy.conrelid = copy_table.oid
       AND copy.contype = original.contype
       AND pg_get_constraintdef(copy.oid) = pg_get_constraintdef(original.oid)
     WHERE original.contype = 'u'
       AND copy.conname <> original.conname
       AND NOT EXISTS (
           SELECT 1 FROM pg_class taken
            WHERE taken.relnamespace = copy_schema.oid AND taken.relname = original.conname
       )
     ORDER BY copy.oid, original.conname
"""


def restore_constraint_names(source: str, dest: str) -> int:
    """Rename the unique constraints (and their indexes) of schema ``dest`` to the names they
    have in ``source``. Idempotent; returns how many it renamed."""
    if source == dest:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(_MISNAMED, {"source": source, "dest": dest})
        renames = cursor.fetchall()
        schema = connection.ops.quote_name(dest)
        for table, current, wanted in renames:
            cursor.execute(f"ALTER TABLE {schema}.{table} RENAME CONSTRAINT {current} TO {wanted}")
    return len(renames)
