"""The audit log stays append-only for everyone, except that the retention schedule may expire
old lines: a transaction that declares a cutoff (homevisits.retention.audit_log_expire sets
homevisits.audit_delete_before, transaction-local) may delete lines older than that cutoff, and
never a line younger than a year. Updates are always refused."""

from django.db import migrations

ALLOW_RETENTION_DELETES = """
CREATE OR REPLACE FUNCTION homevisits_audit_append_only() RETURNS trigger AS $$
DECLARE
    delete_before text := current_setting('homevisits.audit_delete_before', true);
BEGIN
    IF TG_OP = 'DELETE'
       AND coalesce(delete_before, '') <> ''
       AND OLD.at < delete_before::timestamptz
       AND OLD.at < now() - interval '1 year' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'The audit log is append-only';
END;
$$ LANGUAGE plpgsql;
"""
REFUSE_EVERY_CHANGE = """
CREATE OR REPLACE FUNCTION homevisits_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'The audit log is append-only';
END;
$$ LANGUAGE plpgsql;
"""


def allow_retention_deletes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(ALLOW_RETENTION_DELETES)


def refuse_every_change(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REFUSE_EVERY_CHANGE)


class Migration(migrations.Migration):
    dependencies = [("homevisits", "0006_team_policy_feed_detail")]

    operations = [migrations.RunPython(allow_retention_deletes, refuse_every_change)]
