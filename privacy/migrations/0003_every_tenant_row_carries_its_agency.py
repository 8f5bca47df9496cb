import django.utils.timezone
from django.db import migrations, models

from core.migration_ops import agency_from_parent, same_agency_as_parent


class Migration(migrations.Migration):
    dependencies = [
        ("privacy", "0002_onboarding_and_lockout_moved"),
        ("search", "0007_every_tenant_row_carries_its_agency"),
    ]

    operations = [
        migrations.AddField(model_name="erasurerequest", name="lease_expires_at",
                            field=models.DateTimeField(blank=True, null=True)),
        migrations.AddField(model_name="erasurerequest", name="dispatched_at",
                            field=models.DateTimeField(blank=True, null=True, default=django.utils.timezone.now)),
        *agency_from_parent("searchpurge", "privacy_searchpurge", "search_id", "search_search"),
        *agency_from_parent("imagereview", "privacy_imagereview", "image_id", "search_galleryimage"),
        same_agency_as_parent("privacy_searchpurge", "search_id", "search_search"),
        same_agency_as_parent("privacy_imagereview", "image_id", "search_galleryimage"),
    ]
