from importlib import import_module

from django.db import migrations

# The billing ledgers only grow, like the audit log: the same trigger refuses UPDATE, DELETE and TRUNCATE
# to the application's role.
audit_triggers = import_module("search.migrations.0003_audit_append_only")
TABLES = ["billing_usagerecord", "billing_usagereport", "billing_licencechange"]


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial"), ("search", "0003_audit_append_only")]

    operations = [
        migrations.RunSQL(audit_triggers.protect(table), audit_triggers.unprotect(table)) for table in TABLES
    ]
