from django.db import migrations


class Migration(migrations.Migration):
    """The audit tables now belong to the audit app (audit.0001 renamed them); only the state changes here."""

    dependencies = [("search", "0004_face_index_in_worker"), ("audit", "0001_moved_from_search")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="AuditChainHead"),
                migrations.DeleteModel(name="AuditEvent"),
                migrations.DeleteModel(name="AuditCheckpoint"),
                migrations.DeleteModel(name="AuditVerification"),
            ],
        ),
    ]
