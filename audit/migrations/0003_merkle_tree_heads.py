from importlib import import_module

from django.db import migrations, models

append_only = import_module("search.migrations.0003_audit_append_only")

OLD_APPEND = ("audit_append(text, bigint, bigint, uuid, timestamptz, uuid, text, inet, text, text, text, jsonb, "
              "text, text)")

# audit_append now also stores the event's Merkle leaf hash (audit/merkle.py over audit.log.canonical_row).
APPEND = """
CREATE FUNCTION audit_append(
    p_chain text, p_seq bigint, p_agency_id bigint, p_agency_code uuid, p_at timestamptz, p_actor_code uuid,
    p_actor_email text, p_actor_ip inet, p_event text, p_target text, p_outcome text, p_details jsonb,
    p_prev_hash text, p_hash text, p_leaf_hash text
) RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    head audit_auditchainhead%ROWTYPE;
    new_id bigint;
BEGIN
    SELECT * INTO head FROM audit_auditchainhead WHERE chain = p_chain FOR UPDATE;
    IF NOT FOUND OR head.seq + 1 <> p_seq OR head.hash <> p_prev_hash THEN
        RAISE EXCEPTION 'audit event % of chain % does not follow the chain''s head', p_seq, p_chain;
    END IF;
    IF head.agency_id IS DISTINCT FROM p_agency_id OR p_hash !~ '^[0-9a-f]{64}$' OR p_leaf_hash !~ '^[0-9a-f]{64}$' THEN
        RAISE EXCEPTION 'audit event % of chain % names another agency or has no valid hash', p_seq, p_chain;
    END IF;
    INSERT INTO audit_auditevent (chain, seq, agency_id, agency_code, at, actor_code, actor_email, actor_ip, event,
                                  target, outcome, details, prev_hash, hash, leaf_hash)
        VALUES (p_chain, p_seq, p_agency_id, p_agency_code, p_at, p_actor_code, p_actor_email, p_actor_ip, p_event,
                p_target, p_outcome, p_details, p_prev_hash, p_hash, p_leaf_hash)
        RETURNING id INTO new_id;
    UPDATE audit_auditchainhead SET seq = p_seq, hash = p_hash WHERE chain = p_chain;
    RETURN new_id;
END
$$;
"""


def fill_leaf_hashes(apps, schema_editor):
    from audit.log import leaf_of

    events = apps.get_model("audit", "AuditEvent").objects.using(schema_editor.connection.alias)
    for event in events.filter(leaf_hash="").iterator(chunk_size=2000):
        events.filter(pk=event.pk).update(leaf_hash=leaf_of(event).hex())


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_agency_ids_and_append_functions")]

    operations = [
        migrations.AddField("auditevent", "leaf_hash", models.CharField(default="", max_length=64)),
        migrations.RunPython(fill_leaf_hashes, migrations.RunPython.noop),
        migrations.RunSQL(f"DROP FUNCTION {OLD_APPEND};" + APPEND, migrations.RunSQL.noop),
        migrations.CreateModel(
            name="AuditTreeHead",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("chain", models.CharField(max_length=40)),
                ("agency_id", models.BigIntegerField(blank=True, null=True)),
                ("tree_size", models.BigIntegerField()),
                ("root_hash", models.CharField(max_length=64)),
                ("signed_at", models.DateTimeField()),
                ("key_id", models.CharField(max_length=16)),
                ("signature", models.CharField(max_length=100)),
            ],
            options={"ordering": ["chain", "tree_size"]},
        ),
        migrations.AddConstraint("audittreehead", models.UniqueConstraint(fields=("chain", "tree_size"),
                                                                          name="audit_one_head_per_size")),
        migrations.RunSQL(append_only.protect("audit_audittreehead"), append_only.unprotect("audit_audittreehead")),
    ]
