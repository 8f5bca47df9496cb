import django.utils.timezone
from django.db import migrations, models

# The audit tables were created by the search app; they move here with their rows, triggers and indexes.
TABLES = {
    "search_auditchainhead": "audit_auditchainhead",
    "search_auditevent": "audit_auditevent",
    "search_auditcheckpoint": "audit_auditcheckpoint",
    "search_auditverification": "audit_auditverification",
}


def renames(mapping: dict) -> list:
    return [migrations.RunSQL(f"ALTER TABLE {old} RENAME TO {new}", f"ALTER TABLE {new} RENAME TO {old}")
            for old, new in mapping.items()]


class Migration(migrations.Migration):
    initial = True
    dependencies = [("search", "0004_face_index_in_worker")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=renames(TABLES),
            state_operations=[
                migrations.CreateModel(
                    name="AuditChainHead",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("chain", models.CharField(max_length=40, unique=True)),
                        ("seq", models.BigIntegerField(default=0)),
                        ("hash", models.CharField(default="0" * 64, max_length=64)),
                    ],
                ),
                migrations.CreateModel(
                    name="AuditEvent",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("chain", models.CharField(max_length=40)),
                        ("seq", models.BigIntegerField()),
                        ("agency_code", models.UUIDField(blank=True, null=True)),
                        ("at", models.DateTimeField()),
                        ("actor_code", models.UUIDField(blank=True, null=True)),
                        ("actor_email", models.CharField(blank=True, max_length=254)),
                        ("actor_ip", models.GenericIPAddressField(blank=True, null=True)),
                        ("event", models.CharField(max_length=50)),
                        ("target", models.CharField(blank=True, max_length=64)),
                        ("outcome", models.CharField(default="ok", max_length=20)),
                        ("details", models.JSONField(default=dict)),
                        ("prev_hash", models.CharField(max_length=64)),
                        ("hash", models.CharField(max_length=64)),
                    ],
                    options={
                        "ordering": ["chain", "seq"],
                        "indexes": [
                            models.Index(fields=["agency_code", "event", "-at"], name="audit_agency_event_idx"),
                            models.Index(fields=["target"], name="audit_target_idx"),
                        ],
                        "constraints": [models.UniqueConstraint(fields=("chain", "seq"), name="audit_seq_unique_in_chain")],
                    },
                ),
                migrations.CreateModel(
                    name="AuditCheckpoint",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("chain", models.CharField(max_length=40)),
                        ("seq", models.BigIntegerField()),
                        ("hash", models.CharField(max_length=64)),
                        ("created", models.DateTimeField(default=django.utils.timezone.now)),
                    ],
                    options={"ordering": ["chain", "seq"]},
                ),
                migrations.CreateModel(
                    name="AuditVerification",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("chain", models.CharField(max_length=40)),
                        ("ok", models.BooleanField()),
                        ("first_bad_seq", models.BigIntegerField(blank=True, null=True)),
                        ("message", models.CharField(max_length=500)),
                        ("checked_events", models.BigIntegerField(default=0)),
                        ("created", models.DateTimeField(default=django.utils.timezone.now)),
                    ],
                    options={"ordering": ["-created"]},
                ),
            ],
        ),
    ]
