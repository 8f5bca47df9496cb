"""Row-level security and privileges, brought in line with the models after every migration.

Run by the owner role (post_migrate, see core.apps). For every table that has an agency_id column, row-level
security is enabled and forced, and these policies are (re)created:
- `tenant_rows`: anyone sees and writes only the rows of the agency set for the transaction (core.tenancy);
  with no agency set, nothing (agency_id = NULL is never true);
- `schema_owner`: the owner role, for migrations that rewrite rows;
- `own_rows` where a model names a user column (`rows_of_the_user`): the signed-in user reads their own rows
  before the agency is known (their membership);
- `cross_<path>` for each named path a model admits (`cross_agency`), for the platform role only.
Then privileges: the application and platform roles get what each model allows (`app_privileges`, by default
SELECT, INSERT, UPDATE, DELETE), own nothing, and may not create objects.
"""
import logging

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

from core.tenancy import AGENCY_SETTING, PATH_SETTING, USER_SETTING, Access, Crossing

logger = logging.getLogger(__name__)

DEFAULT_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")

SETTING_FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION app_agency_id() RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE AS
    $$ SELECT NULLIF(current_setting('{AGENCY_SETTING}', true), '')::bigint $$;
CREATE OR REPLACE FUNCTION app_user_id() RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE AS
    $$ SELECT NULLIF(current_setting('{USER_SETTING}', true), '')::bigint $$;
CREATE OR REPLACE FUNCTION app_cross_agency_path() RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS
    $$ SELECT COALESCE(current_setting('{PATH_SETTING}', true), '') $$;
"""


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def tenant_models() -> list:
    """Every model whose table carries agency_id."""
    return [model for model in apps.get_models()
            if not model._meta.proxy and any(field.column == "agency_id" for field in model._meta.concrete_fields)]


def policies_of(model, owner: str, platform: str) -> list[str]:
    table = quote(model._meta.db_table)
    tenant = "agency_id = (SELECT app_agency_id())"
    statements = [
        f"CREATE POLICY tenant_rows ON {table} USING ({tenant}) WITH CHECK ({tenant})",
        f"CREATE POLICY schema_owner ON {table} TO {quote(owner)} USING (true) WITH CHECK (true)",
    ]
    user_column = getattr(model, "rows_of_the_user", "")
    if user_column:
        statements.append(f"CREATE POLICY own_rows ON {table} FOR SELECT "
                          f"USING ({quote(user_column)} = (SELECT app_user_id()))")
    crossings: dict = getattr(model, "cross_agency", {})
    for path, crossing in crossings.items():
        crossing = crossing if isinstance(crossing, Crossing) else Crossing(crossing)
        condition = f"(SELECT app_cross_agency_path()) = '{path.value}'"
        if crossing.only_rows:
            condition += f" AND ({crossing.only_rows})"
        check = f" WITH CHECK ({condition})" if crossing.access == Access.WRITE else ""
        statements.append(f"CREATE POLICY cross_{path.value} ON {table} FOR {crossing.access.value} "
                          f"TO {quote(platform)} USING ({condition}){check}")
    return statements


def secure_table(cursor, model, owner: str, platform: str) -> None:
    table = model._meta.db_table
    cursor.execute("SELECT policyname FROM pg_policies WHERE schemaname = current_schema() AND tablename = %s",
                   [table])
    for (name,) in cursor.fetchall():
        cursor.execute(f"DROP POLICY {quote(name)} ON {quote(table)}")
    cursor.execute(f"ALTER TABLE {quote(table)} ENABLE ROW LEVEL SECURITY")
    cursor.execute(f"ALTER TABLE {quote(table)} FORCE ROW LEVEL SECURITY")
    for statement in policies_of(model, owner, platform):
        cursor.execute(statement)


def grant_privileges(cursor, roles: list[str]) -> None:
    grantees = ", ".join(quote(role) for role in roles)
    cursor.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    cursor.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {grantees}")
    cursor.execute(f"GRANT {', '.join(DEFAULT_PRIVILEGES)} ON ALL TABLES IN SCHEMA public TO {grantees}")
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    existing = {name for (name,) in cursor.fetchall()}
    cursor.execute(f"REVOKE INSERT, UPDATE, DELETE ON django_migrations FROM {grantees}")
    for model in apps.get_models():
        privileges = getattr(model, "app_privileges", DEFAULT_PRIVILEGES)
        if model._meta.db_table in existing and tuple(privileges) != DEFAULT_PRIVILEGES:
            table = quote(model._meta.db_table)
            cursor.execute(f"REVOKE ALL ON {table} FROM {grantees}")
            cursor.execute(f"GRANT {', '.join(privileges)} ON {table} TO {grantees}")
    cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {grantees}")
    # Functions that run with the owner's rights (the audit log's writers) are for these roles only.
    cursor.execute("""SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                      WHERE n.nspname = current_schema() AND p.prosecdef""")
    for (signature,) in cursor.fetchall():
        cursor.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        cursor.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {grantees}")


def roles_of(using: str) -> tuple[str, str, str]:
    owner = connections[using].settings_dict["USER"]
    app = settings.DATABASES["default"]["USER"]
    if owner == app:
        raise ImproperlyConfigured(
            "Migrations must run as the owner role, not as the application's role: set DATABASE_OWNER_URL "
            "(see the README's Configuration section).")
    return owner, app, settings.DATABASE_PLATFORM_ROLE


def check_roles_exist(cursor, roles: list[str]) -> None:
    cursor.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", [roles])
    missing = set(roles) - {name for (name,) in cursor.fetchall()}
    if missing:
        raise ImproperlyConfigured(f"The database roles {sorted(missing)} do not exist: create them as the "
                                   "README's Configuration section says.")


def sync_database_security(using: str) -> None:
    owner, app, platform = roles_of(using)
    with connections[using].cursor() as cursor:
        check_roles_exist(cursor, [app, platform])
        cursor.execute(SETTING_FUNCTIONS)
        for model in tenant_models():
            secure_table(cursor, model, owner, platform)
        grant_privileges(cursor, [app, platform])
    logger.info("Row-level security and privileges are in line with %s tenant tables", len(tenant_models()))


def sync_after_migrate(sender, using: str, **kwargs) -> None:
    sync_database_security(using)
