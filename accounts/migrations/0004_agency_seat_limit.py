from django.db import migrations, models


def copy_plan_seats(apps, schema_editor):
    Licence = apps.get_model("billing", "Licence")
    Agency = apps.get_model("accounts", "Agency")
    db = schema_editor.connection.alias
    for agency_id, seats in Licence.objects.using(db).exclude(plan=None).values_list("agency_id", "plan__seats"):
        Agency.objects.using(db).filter(pk=agency_id).update(seat_limit=seats)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_onboarding_and_lockout_moved"), ("billing", "0002_ledgers_append_only")]

    operations = [
        migrations.AddField(
            model_name="agency",
            name="seat_limit",
            field=models.PositiveIntegerField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(copy_plan_seats, migrations.RunPython.noop),
    ]
