from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_audit_agency_ids")]

    operations = [
        migrations.AddField(
            model_name="agency",
            name="transparency_public",
            field=models.BooleanField(default=False, verbose_name="publish the transparency report"),
        ),
    ]
