from django.db import migrations

# The audit log keys an agency's chain on its code; row-level security keys tenant rows on the agency's id.
FILL = "\n".join(
    f"UPDATE {table} AS row SET agency_id = agency.id FROM accounts_agency AS agency WHERE row.chain = agency.code::text;"
    for table in ("audit_auditchainhead", "audit_auditevent", "audit_auditcheckpoint", "audit_auditverification")
)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_agency_seat_limit"), ("audit", "0002_agency_ids_and_append_functions")]

    operations = [migrations.RunSQL(FILL, migrations.RunSQL.noop)]
