"""Migration steps for tenancy, shared by the apps' migrations: give a child table its parent's agency, and
make the database check that a child's agency is its parent's."""
import django.db.models.deletion
from django.db import migrations, models


def agency_from_parent(model_name: str, table: str, parent_column: str, parent_table: str) -> list:
    """Adds a non-null `agency` to an existing table, filled from its parent's."""
    field = {"on_delete": django.db.models.deletion.CASCADE, "related_name": "+", "to": "accounts.agency"}
    return [
        migrations.AddField(model_name=model_name, name="agency", field=models.ForeignKey(null=True, **field)),
        migrations.RunSQL(
            f"UPDATE {table} AS child SET agency_id = parent.agency_id FROM {parent_table} AS parent "
            f"WHERE parent.id = child.{parent_column}",
            migrations.RunSQL.noop,
        ),
        migrations.AlterField(model_name=model_name, name="agency", field=models.ForeignKey(**field)),
    ]


def same_agency_as_parent(table: str, parent_column: str, parent_table: str) -> migrations.RunSQL:
    """A composite foreign key (parent id, agency id): a row can only point at a parent of its own agency.
    Deferred like Django's own keys, so deletions in any order within a transaction are fine."""
    name = f"{table}_{parent_column}_same_agency"
    return migrations.RunSQL(
        f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({parent_column}, agency_id) "
        f"REFERENCES {parent_table} (id, agency_id) DEFERRABLE INITIALLY DEFERRED",
        f"ALTER TABLE {table} DROP CONSTRAINT {name}",
    )
