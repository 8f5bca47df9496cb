from django.db import migrations


class Migration(migrations.Migration):
    """Tenant policy, agency approvals and login throttling now belong to accounts (accounts.0003 renamed
    their tables); only the state changes here."""

    dependencies = [("privacy", "0001_initial"), ("accounts", "0003_onboarding_and_lockout_moved")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="TenantPolicy"),
                migrations.DeleteModel(name="AgencyApproval"),
                migrations.DeleteModel(name="LoginThrottle"),
            ],
        ),
    ]
