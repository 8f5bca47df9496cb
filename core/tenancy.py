"""The agency a database transaction works for, and the named paths that cross agencies.

Every tenant table carries agency_id, and PostgreSQL's row-level security, enabled and forced on each of
them (core.rls), shows and accepts only the rows of the agency set for the current transaction. The
setting is transaction-local (set_config(..., is_local => true)): it lives and dies with the transaction
that holds it, so a pooled or persistent connection never carries one request's agency into the next.
The request middleware (accounts.middleware) and the job wrapper (core.jobs) each open that transaction.

Work that must cross agencies goes through one of the named paths of CrossAgency and nothing else: the
code switches to the platform role and names its path, each tenant model declares which paths may read
or write it (`cross_agency`), and the policies allow exactly that. Forgetting to set the agency never
crosses anything: it shows no row and refuses every write.
"""
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.db import connection, transaction

AGENCY_SETTING = "app.agency_id"
USER_SETTING = "app.user_id"
PATH_SETTING = "app.cross_agency_path"


class CrossAgency(StrEnum):
    """Every path by which work reaches more than one agency's rows, and why it must."""

    INVITATION = "invitation"
    """Accepting an invitation: the person has no agency yet; the invitation is found by its token's hash."""
    STRIPE_WEBHOOK = "stripe_webhook"
    """Stripe's events name a customer, not an agency: the licence is found by its Stripe customer."""
    USAGE_REPORTING = "usage_reporting"
    """Usage rows of every agency that has a Stripe customer are reported to Stripe in one batch."""
    ERASURE = "erasure"
    """An erasure request's face is looked for in every agency's galleries (an exact scan, read-only)."""
    DEMO_GALLERY = "demo_gallery"
    """Demo agencies search the built-in demo gallery, which belongs to a platform agency (read-only, and
    only that agency's rows: a demo never reaches a real agency)."""
    FACE_INDEX = "face_index"
    """The in-memory face index of one agency is built by a worker that may serve any agency's searches."""
    PLATFORM_STAFF = "platform_staff"
    """Operators and sales see counts across agencies (demos, members, usage), operators see each person's agency
    (to reset a lost second factor); never probes or results."""
    AUDIT_VERIFICATION = "audit_verification"
    """Verifying every agency's audit chain and recording its checkpoints."""
    JOBS = "jobs"
    """A worker finds the agency of the job it was handed, and re-drives jobs stranded in any agency."""


class Access(StrEnum):
    READ = "SELECT"
    WRITE = "ALL"


@dataclass(frozen=True)
class Crossing:
    """How one path may reach one table: read-only or read-write, optionally only some rows (SQL)."""

    access: Access = Access.READ
    only_rows: str = ""


def _swap_settings(values: dict[str, str]) -> dict[str, str]:
    """Sets transaction-local settings and returns what they were."""
    names = list(values)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(["COALESCE(current_setting(%s, true), '')"] * len(names)), names)
        previous = dict(zip(names, cursor.fetchone()))
    _set_local(values)
    return previous


def _set_local(values: dict[str, str]) -> None:
    arguments = [part for name, value in values.items() for part in (name, value)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(["set_config(%s, %s, true)"] * len(values)), arguments)


@contextmanager
def tenant_transaction(agency_id: int | None, *, user_id: int | None = None):
    """A transaction (or a savepoint in one) that sees the rows of `agency_id` and no cross-agency path.
    `user_id` lets the signed-in user's own membership be read before the agency is known."""
    values = {AGENCY_SETTING: str(agency_id or ""), USER_SETTING: str(user_id or ""), PATH_SETTING: ""}
    with transaction.atomic():
        previous = _swap_settings(values)
        yield
        # Reached only without an exception; with one, or a rollback asked for, rolling back restores them.
        if not transaction.get_rollback():
            _set_local(previous)


def enter_agency(agency_id: int, *, user_id: int) -> None:
    """Within a tenant transaction opened before the member was known (a request authenticated by the REST
    framework's token, say), from now on see that member's agency. The enclosing transaction restores."""
    assert transaction.get_connection().in_atomic_block, "the agency is set for a transaction only"
    _set_local({AGENCY_SETTING: str(agency_id), USER_SETTING: str(user_id)})


@contextmanager
def cross_agency(path: CrossAgency):
    """A transaction (or a savepoint) on one of the named cross-agency paths, as the platform role."""
    with transaction.atomic():
        previous = _swap_settings({PATH_SETTING: path.value, "role": settings.DATABASE_PLATFORM_ROLE})
        yield
        if not transaction.get_rollback():
            _set_local(previous)


def current_agency_id() -> int | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT NULLIF(current_setting(%s, true), '')::bigint", [AGENCY_SETTING])
        return cursor.fetchone()[0]

