import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

# Tenant policy, agency approvals and login throttling were created by the privacy app; they move here,
# with their rows, next to the agencies and users they concern.
TABLES = {
    "privacy_tenantpolicy": "accounts_tenantpolicy",
    "privacy_agencyapproval": "accounts_agencyapproval",
    "privacy_loginthrottle": "accounts_loginthrottle",
}


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_agency_case_number_pattern_agency_code_of_conduct_and_more"),
        ("privacy", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(f"ALTER TABLE {old} RENAME TO {new}", f"ALTER TABLE {new} RENAME TO {old}")
                for old, new in TABLES.items()
            ],
            state_operations=[
                migrations.CreateModel(
                    name="TenantPolicy",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("allowed_countries", models.JSONField(default=list)),
                        ("allowed_kinds", models.JSONField(default=list)),
                        ("updated", models.DateTimeField(default=django.utils.timezone.now)),
                        ("updated_by", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL,
                                                         related_name="+", to=settings.AUTH_USER_MODEL)),
                    ],
                ),
                migrations.CreateModel(
                    name="AgencyApproval",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("reason", models.TextField()),
                        ("created", models.DateTimeField(default=django.utils.timezone.now)),
                        ("agency", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE,
                                                        related_name="approval", to="accounts.agency")),
                        ("approved_by", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL,
                                                          related_name="+", to=settings.AUTH_USER_MODEL)),
                    ],
                ),
                migrations.CreateModel(
                    name="LoginThrottle",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("key", models.CharField(max_length=64, unique=True)),
                        ("failures", models.PositiveSmallIntegerField(default=0)),
                        ("last_failure_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("locked_until", models.DateTimeField(blank=True, null=True)),
                    ],
                ),
            ],
        ),
    ]
