from django.db import migrations


class Migration(migrations.Migration):
    """The demo gallery's marker now belongs to search (search.0006 renamed its table)."""

    dependencies = [("billing", "0002_ledgers_append_only"), ("search", "0006_demogallery_moved")]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="DemoGallery")]),
    ]
