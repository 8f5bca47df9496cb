from django.db import migrations, models

from core.migration_ops import agency_from_parent, same_agency_as_parent


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0003_demogallery_moved"),
        ("audit", "0002_agency_ids_and_append_functions"),  # the append-only trigger lets the owner fill columns
    ]

    operations = [
        migrations.AddConstraint(model_name="licence",
                                 constraint=models.UniqueConstraint(fields=("id", "agency"), name="licence_id_agency")),
        migrations.AddConstraint(model_name="usagerecord",
                                 constraint=models.UniqueConstraint(fields=("id", "agency"), name="usagerecord_id_agency")),
        *agency_from_parent("licencechange", "billing_licencechange", "licence_id", "billing_licence"),
        *agency_from_parent("usagereport", "billing_usagereport", "record_id", "billing_usagerecord"),
        same_agency_as_parent("billing_licencechange", "licence_id", "billing_licence"),
        same_agency_as_parent("billing_usagereport", "record_id", "billing_usagerecord"),
    ]
