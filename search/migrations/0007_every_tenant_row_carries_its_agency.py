import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

from core.migration_ops import agency_from_parent, same_agency_as_parent

# Search.galleries gets an explicit through model (SearchGallery) on its existing table, with the agency of
# the search; the unique pair constraint Django generated is replaced by a named one.
SEARCH_GALLERY_AGENCY = """
ALTER TABLE search_search_galleries ADD COLUMN agency_id bigint;
UPDATE search_search_galleries AS link SET agency_id = search.agency_id FROM search_search AS search
    WHERE search.id = link.search_id;
ALTER TABLE search_search_galleries ALTER COLUMN agency_id SET NOT NULL;
ALTER TABLE search_search_galleries ADD CONSTRAINT search_search_galleries_agency_id_fk
    FOREIGN KEY (agency_id) REFERENCES accounts_agency (id) DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX search_search_galleries_agency_id ON search_search_galleries (agency_id);
DO $$
DECLARE generated text;
BEGIN
    SELECT conname INTO generated FROM pg_constraint
        WHERE conrelid = 'search_search_galleries'::regclass AND contype = 'u';
    EXECUTE format('ALTER TABLE search_search_galleries DROP CONSTRAINT %I', generated);
END $$;
ALTER TABLE search_search_galleries ADD CONSTRAINT search_gallery_once UNIQUE (search_id, gallery_id);
"""

# The agency that owns the built-in demo gallery: the only agency whose gallery rows a demo search may read
# (row-level security's demo_gallery path). It runs with the owner's rights so that evaluating a policy on
# search_gallery does not itself depend on that policy.
DEMO_CONTENT_AGENCY = """
CREATE FUNCTION search_demo_content_agency_id() RETURNS bigint LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public AS $$
    SELECT gallery.agency_id FROM search_demogallery AS marker JOIN search_gallery AS gallery ON gallery.id = marker.gallery_id
    ORDER BY marker.id LIMIT 1
$$;
"""

JOB_FIELDS = [
    (model, name, field)
    for model in ("galleryimage", "enrollmentitem", "search")
    for name, field in (("lease_expires_at", models.DateTimeField(blank=True, null=True)),
                        ("dispatched_at", models.DateTimeField(blank=True, null=True,
                                                               default=django.utils.timezone.now)))
]

ID_AGENCY_UNIQUE = ["gallery", "subject", "galleryimage", "enrollmentbatch", "search", "searchface", "candidate"]


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0006_demogallery_moved"),
        ("accounts", "0005_audit_agency_ids"),
    ]

    operations = [
        migrations.RemoveField(model_name="enrollmentbatch", name="attempts"),  # never used
        *[migrations.AddField(model_name=model, name=name, field=field) for model, name, field in JOB_FIELDS],
        *agency_from_parent("subject", "search_subject", "gallery_id", "search_gallery"),
        *agency_from_parent("enrollmentitem", "search_enrollmentitem", "batch_id", "search_enrollmentbatch"),
        *agency_from_parent("searchface", "search_searchface", "search_id", "search_search"),
        *agency_from_parent("candidate", "search_candidate", "search_face_id", "search_searchface"),
        *agency_from_parent("candidatedecision", "search_candidatedecision", "candidate_id", "search_candidate"),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(SEARCH_GALLERY_AGENCY)],
            state_operations=[
                migrations.CreateModel(
                    name="SearchGallery",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("agency", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+",
                                                     to="accounts.agency")),
                        ("gallery", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+",
                                                      to="search.gallery")),
                        ("search", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to="search.search")),
                    ],
                    options={"db_table": "search_search_galleries"},
                ),
                migrations.AddConstraint(
                    model_name="searchgallery",
                    constraint=models.UniqueConstraint(fields=("search", "gallery"), name="search_gallery_once"),
                ),
                migrations.AlterField(
                    model_name="search", name="galleries",
                    field=models.ManyToManyField(related_name="+", through="search.SearchGallery", to="search.gallery"),
                ),
            ],
        ),
        *[migrations.AddConstraint(model_name=model,
                                   constraint=models.UniqueConstraint(fields=("id", "agency"), name=f"{model}_id_agency"))
          for model in ID_AGENCY_UNIQUE],
        same_agency_as_parent("search_subject", "gallery_id", "search_gallery"),
        same_agency_as_parent("search_galleryimage", "gallery_id", "search_gallery"),
        same_agency_as_parent("search_galleryimage", "subject_id", "search_subject"),
        same_agency_as_parent("search_face", "gallery_id", "search_gallery"),
        same_agency_as_parent("search_face", "image_id", "search_galleryimage"),
        same_agency_as_parent("search_enrollmentbatch", "gallery_id", "search_gallery"),
        same_agency_as_parent("search_enrollmentitem", "batch_id", "search_enrollmentbatch"),
        same_agency_as_parent("search_enrollmentitem", "image_id", "search_galleryimage"),
        same_agency_as_parent("search_search_galleries", "search_id", "search_search"),
        same_agency_as_parent("search_searchface", "search_id", "search_search"),
        same_agency_as_parent("search_candidate", "search_face_id", "search_searchface"),
        same_agency_as_parent("search_candidatedecision", "candidate_id", "search_candidate"),
        migrations.RunSQL(DEMO_CONTENT_AGENCY, "DROP FUNCTION search_demo_content_agency_id()"),
    ]
