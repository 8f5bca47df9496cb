from django.db import migrations, models

# The append-only trigger lets through superusers and the table's owner (who could drop the trigger anyway,
# and whose migrations may fill a new column); the application's role is refused. Truncating an empty table
# loses nothing and is allowed.
APPEND_ONLY = """
CREATE OR REPLACE FUNCTION portal_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    has_rows boolean;
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
       OR pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'USAGE') THEN
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
    RAISE EXCEPTION '% on % is refused: the table is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""

# Appending to a chain. The application's role may only read the audit tables; these two functions, which
# run with the owner's rights, are its only way to write an event. audit_chain_tip locks the chain's head for
# the rest of the transaction (creating it on first use) and returns it; audit_append inserts the next event
# only if it follows that head, then moves the head. A chain therefore stays gapless and linked whoever writes.
APPEND_FUNCTIONS = """
CREATE FUNCTION audit_chain_tip(p_chain text, p_agency_id bigint) RETURNS TABLE (seq bigint, hash varchar)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    INSERT INTO audit_auditchainhead (chain, agency_id, seq, hash)
        VALUES (p_chain, p_agency_id, 0, repeat('0', 64)) ON CONFLICT (chain) DO NOTHING;
    RETURN QUERY SELECT h.seq, h.hash FROM audit_auditchainhead h WHERE h.chain = p_chain FOR UPDATE;
END
$$;

CREATE FUNCTION audit_append(
    p_chain text, p_seq bigint, p_agency_id bigint, p_agency_code uuid, p_at timestamptz, p_actor_code uuid,
    p_actor_email text, p_actor_ip inet, p_event text, p_target text, p_outcome text, p_details jsonb,
    p_prev_hash text, p_hash text
) RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    head audit_auditchainhead%ROWTYPE;
    new_id bigint;
BEGIN
    SELECT * INTO head FROM audit_auditchainhead WHERE chain = p_chain FOR UPDATE;
    IF NOT FOUND OR head.seq + 1 <> p_seq OR head.hash <> p_prev_hash THEN
        RAISE EXCEPTION 'audit event % of chain % does not follow the chain''s head', p_seq, p_chain;
    END IF;
    IF head.agency_id IS DISTINCT FROM p_agency_id OR p_hash !~ '^[0-9a-f]{64}$' THEN
        RAISE EXCEPTION 'audit event % of chain % names another agency or has no valid hash', p_seq, p_chain;
    END IF;
    INSERT INTO audit_auditevent (chain, seq, agency_id, agency_code, at, actor_code, actor_email, actor_ip, event,
                                  target, outcome, details, prev_hash, hash)
        VALUES (p_chain, p_seq, p_agency_id, p_agency_code, p_at, p_actor_code, p_actor_email, p_actor_ip, p_event,
                p_target, p_outcome, p_details, p_prev_hash, p_hash)
        RETURNING id INTO new_id;
    UPDATE audit_auditchainhead SET seq = p_seq, hash = p_hash WHERE chain = p_chain;
    RETURN new_id;
END
$$;
"""
DROP_APPEND_FUNCTIONS = "DROP FUNCTION audit_append; DROP FUNCTION audit_chain_tip;"


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_moved_from_search")]

    operations = [
        migrations.RunSQL(APPEND_ONLY, migrations.RunSQL.noop),
        *[migrations.AddField(model_name=model, name="agency_id", field=models.BigIntegerField(blank=True, null=True))
          for model in ("auditchainhead", "auditevent", "auditcheckpoint", "auditverification")],
        migrations.RunSQL(APPEND_FUNCTIONS, DROP_APPEND_FUNCTIONS),
    ]
