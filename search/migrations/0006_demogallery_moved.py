import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    """The marker of the built-in demo gallery was created by billing; it moves here, next to the gallery,
    because deciding what a demo search covers is search's business."""

    dependencies = [("search", "0005_audit_tables_moved"), ("billing", "0002_ledgers_append_only")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL("ALTER TABLE billing_demogallery RENAME TO search_demogallery",
                                  "ALTER TABLE search_demogallery RENAME TO billing_demogallery"),
            ],
            state_operations=[
                migrations.CreateModel(
                    name="DemoGallery",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("created", models.DateTimeField(default=django.utils.timezone.now)),
                        ("gallery", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name="+",
                                                         to="search.gallery")),
                    ],
                ),
            ],
        ),
    ]
