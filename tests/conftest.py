"""Shared fixtures: the test database as in production (created and migrated by the owner role, used by
the application's role under row-level security), the three people in two agencies, a real Celery worker
on the test database, and the real photos in ../shared/faces."""
import os
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg2
import pytest
from django.conf import settings
from django.db import connection, connections
from django.db.backends.signals import connection_created
from django.test import TransactionTestCase

from accounts.models import Agency, ConductAcceptance, Membership, Role, User
from billing.models import Licence, Plan
from portal.celery import app as celery_app
from core import queues
from portal import localservices
from portal.celery import wait_for_worker
from tests.mfa import mark_mfa_verified

BASE_DIR = Path(__file__).resolve().parent.parent
FACES_DIR = BASE_DIR.parent / "shared" / "faces"
PASSWORD = "a-long-test-password-42"

# The test run gets its own queue, so a development worker never takes its jobs (and the reverse).
TEST_QUEUE = f"portal-test-{uuid.uuid4().hex[:8]}"
settings.CELERY_TASK_DEFAULT_QUEUE = TEST_QUEUE
celery_app.conf.task_default_queue = TEST_QUEUE


def face_bytes(name: str) -> bytes:
    return (FACES_DIR / name).read_bytes()


@dataclass
class People:
    agency: Agency
    other_agency: Agency
    admin: User
    investigator: User
    auditor: User
    outsider: User


def new_audit_signing_key() -> str:
    """A fresh Ed25519 key in PEM, as production's AUDIT_SIGNING_KEY."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def make_member(email: str, agency: Agency, role: str) -> User:
    user = User.objects.create_user(email, PASSWORD, full_name=email.split("@")[0].title())
    Membership.objects.create(user=user, agency=agency, role=role)
    return user


@pytest.fixture
def people(db) -> People:
    """Three people in agency A and an outsider in agency B, all having accepted their code of conduct."""
    agency = Agency.objects.create(name="Alpha Police", kind=Agency.Kind.LAW_ENFORCEMENT, country="FR")
    other = Agency.objects.create(name="Beta Bank", kind=Agency.Kind.PRIVATE, country="GB")
    plan = Plan.objects.create(name="Test plan", stripe_price_id="price_test_plan", seats=10, monthly_searches=1000)
    for licensed in (agency, other):
        Licence.objects.create(agency=licensed, plan=plan, status=Licence.Status.ACTIVE)
    cast = People(
        agency=agency,
        other_agency=other,
        admin=make_member("admin@alpha.test", agency, Role.ADMIN),
        investigator=make_member("investigator@alpha.test", agency, Role.INVESTIGATOR),
        auditor=make_member("auditor@alpha.test", agency, Role.AUDITOR),
        outsider=make_member("outsider@beta.test", other, Role.ADMIN),
    )
    for user in (cast.admin, cast.investigator, cast.auditor, cast.outsider):
        ConductAcceptance.objects.create(user=user, agency=user.membership.agency, version=1)
    return cast


def client_for(client, user: User):
    """A client logged in as `user`, past the second factor with the user's real TOTP device."""
    client.force_login(user)
    mark_mfa_verified(client, user)
    return client


def worker_database_url() -> str:
    db = connection.settings_dict
    query = f"host={quote(db['HOST'])}" + (f"&port={db['PORT']}" if db["PORT"] else "")
    return f"postgresql://{quote(db['USER'])}:{quote(db['PASSWORD'] or '')}@/{db['NAME']}?{query}"


class WorkerProcess:
    """A real `celery worker` in its own process, on the test database and the test run's queues (all of them,
    unless told which: tests/test_production.py starts one worker per search shard)."""

    def __init__(self, database_url: str, queue_names: list[str] | None = None, *, name: str = "test",
                 extra_env: dict | None = None):
        self.database_url = database_url
        self.queue_names = queue_names or queues.all_queues()
        self.extra_env = extra_env or {}
        self.process: subprocess.Popen | None = None
        self.log_path = BASE_DIR / "var" / f"{name}-worker.log"
        self.name = name

    def start(self) -> None:
        env = {**os.environ, "DATABASE_URL": self.database_url, "PORTAL_QUEUE": TEST_QUEUE, "DB_CONN_MAX_AGE": "0",
               **self.extra_env}
        self.log_path.parent.mkdir(exist_ok=True)
        command = [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", ",".join(self.queue_names),
                   "--concurrency", "2", "-l", "info", "--without-mingle", "--without-gossip",
                   "-n", f"{self.name}-{uuid.uuid4().hex[:6]}@%h"]
        self.process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=self.log_path.open("ab"),
                                        stderr=subprocess.STDOUT)
        self.wait_until_answering()

    def wait_until_answering(self, timeout: float = 60) -> None:
        wait_for_worker(self.process, self.log_path, timeout, queue=self.queue_names[0])

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@pytest.fixture(scope="session")
def worker(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        process = WorkerProcess(worker_database_url())
    process.start()
    yield process
    process.stop()


def wait_for(predicate, timeout: float = 60, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout}s waiting for {predicate}")


def superuser_connection():
    """A superuser session on the test database: what a rogue operator could do by hand."""
    if "DATABASE_SUPERUSER_URL" in os.environ:
        connection_ = psycopg2.connect(os.environ["DATABASE_SUPERUSER_URL"], dbname=connection.settings_dict["NAME"])
    else:
        connection_ = psycopg2.connect(host=connection.settings_dict["HOST"], user=localservices.SUPERUSER,
                                       dbname=connection.settings_dict["NAME"])
    connection_.autocommit = True
    return connection_


def tamper(sql: str, *params) -> None:
    """Changes the database behind the application's back, as someone with the server's keys would."""
    admin = superuser_connection()
    try:
        with admin.cursor() as cursor:
            cursor.execute(sql, params)
    finally:
        admin.close()


@contextmanager
def role_connection(alias: str):
    """A session of the role behind `alias` on the test database, outside Django's test transaction."""
    db = connections[alias].settings_dict
    connection_ = psycopg2.connect(host=db["HOST"], port=db["PORT"] or None, user=db["USER"],
                                   password=db["PASSWORD"] or None, dbname=connections["default"].settings_dict["NAME"])
    connection_.autocommit = True
    try:
        yield connection_
    finally:
        connection_.close()


# The test database is made as in production: the owner role creates and migrates it (and so owns every table,
# function and trigger); the application's role, which the tests, the test client and the workers use, only
# connects to it and is bound by row-level security.

TEST_FIXTURES_PATH = "test_fixtures"
# Tests arrange their data directly through the models, across agencies; in the test database only, a policy
# lets the test process's own connections do that. Every request (accounts.middleware) and every job
# (core.jobs) clears this path for its transaction, and the workers never set it, so what the portal does is
# checked by row-level security as in production. Tests of row-level security itself clear it too.
TEST_FIXTURES_POLICY = """
DO $$
DECLARE tenant_table text;
BEGIN
    FOR tenant_table IN SELECT table_name FROM information_schema.columns
                        WHERE table_schema = current_schema() AND column_name = 'agency_id' LOOP
        EXECUTE format('CREATE POLICY test_fixtures ON %I USING (app_cross_agency_path() = %L) WITH CHECK '
                       '(app_cross_agency_path() = %L)', tenant_table, '{path}', '{path}');
    END LOOP;
END $$;
""".format(path=TEST_FIXTURES_PATH)
KEPT_BY_FLUSH = {"django_migrations", "django_content_type", "auth_permission"}


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment, django_db_blocker):
    with django_db_blocker.unblock():
        owner = connections["owner"]
        old_name = owner.settings_dict["NAME"]
        test_name = owner.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        connections["default"].close()
        connections["default"].settings_dict["NAME"] = test_name
        with role_connection("owner") as admin, admin.cursor() as cursor:
            cursor.execute(TEST_FIXTURES_POLICY)
    yield
    with django_db_blocker.unblock():
        connections.close_all()
        owner.creation.destroy_test_db(old_name, verbosity=0)


def _test_process_fixtures_path(sender, connection, **kwargs) -> None:
    if connection.alias == "default":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('app.cross_agency_path', %s, false)", [TEST_FIXTURES_PATH])


connection_created.connect(_test_process_fixtures_path, dispatch_uid="tests.fixtures_path")


def _flush_as_the_owner(self) -> None:
    """A transactional test ends by emptying every table, which the application's role may not do (it may not
    truncate, and the ledgers and the audit log are append-only): the owner does, as a migration would."""
    with role_connection("owner") as admin, admin.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        tables = [name for (name,) in cursor.fetchall() if name not in KEPT_BY_FLUSH]
        cursor.execute("TRUNCATE " + ", ".join(f'"{name}"' for name in tables) + " CASCADE")


TransactionTestCase._fixture_teardown = _flush_as_the_owner


def pytest_collection_modifyitems(config, items) -> None:
    """Tests that restart Redis or PostgreSQL on purpose run after all the others."""
    items.sort(key=lambda item: item.get_closest_marker("faults") is not None)
