from django.db import migrations

# The audit log and its checkpoints only ever grow. The application's role may INSERT and SELECT;
# UPDATE, DELETE and TRUNCATE are refused by the database itself. A superuser is let through on
# purpose: that is the tampering verify_audit exists to catch. Truncating an empty table loses nothing
# and is allowed, so test databases can be flushed once a superuser has emptied them.
APPEND_ONLY = """
CREATE OR REPLACE FUNCTION portal_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    has_rows boolean;
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        IF TG_LEVEL = 'ROW' THEN
            RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
        END IF;
        RETURN NULL;
    END IF;
    IF TG_OP = 'TRUNCATE' THEN
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.%I)', TG_TABLE_SCHEMA, TG_TABLE_NAME) INTO has_rows;
        IF NOT has_rows THEN
            RETURN NULL;
        END IF;
    END IF;
    RAISE EXCEPTION '% on % is refused: the audit log is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""

TABLES = ["search_auditevent", "search_auditcheckpoint"]  # renamed audit_* by audit.0001


def protect(table: str) -> str:
    return f"""
CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION portal_append_only();
CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION portal_append_only();
"""


def unprotect(table: str) -> str:
    return f"DROP TRIGGER {table}_no_change ON {table}; DROP TRIGGER {table}_no_truncate ON {table};"


class Migration(migrations.Migration):
    dependencies = [("search", "0002_auditcheckpoint_auditverification_candidatedecision")]

    operations = [
        migrations.RunSQL(APPEND_ONLY, "DROP FUNCTION portal_append_only();"),
        *[migrations.RunSQL(protect(table), unprotect(table)) for table in TABLES],
    ]
