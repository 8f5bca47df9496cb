"""Tenancy in the database: row-level security on every tenant table, the application's role, and the
outsider matrix over the whole URL map."""
import re
import uuid

import psycopg2
import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.db import DatabaseError, connection, transaction
from django.http import JsonResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, path

from accounts.actions import do_create_api_token
from accounts.models import Invitation, Membership
from audit.log import record_event
from audit.models import AuditEvent
from billing.models import UsageRecord
from core.files import generated_name
from core.rls import tenant_models
from core.tenancy import CrossAgency, current_agency_id, tenant_transaction
from portal.urls import urlpatterns as portal_urlpatterns
from privacy.models import ErasureRequest
from search.models import (
    Candidate,
    CandidateDecision,
    EnrollmentBatch,
    EnrollmentItem,
    Face,
    Gallery,
    GalleryImage,
    Search,
    SearchFace,
    Subject,
)
from tests.conftest import BASE_DIR, client_for, face_bytes, role_connection

pytestmark = pytest.mark.django_db


def agency_data(agency, user, name: str) -> dict:
    """One of everything a tenant owns, in `agency`."""
    gallery = Gallery.objects.create(agency=agency, name=name)
    subject = Subject.objects.create(gallery=gallery, reference=f"{name}-1")
    image = GalleryImage(agency=agency, gallery=gallery, subject=subject, sha256=uuid.uuid4().hex * 2, width=600,
                         height=800, source="Booking", legal_basis="booking_record", status="enrolled")
    image.file.save(generated_name("jpg"), ContentFile(face_bytes("obama_small.jpg")), save=False)
    image.save()
    face = Face.objects.create(image=image, gallery=gallery, agency=agency, top=1, right=9, bottom=9, left=1,
                               encoding=[0.01] * 128)
    batch = EnrollmentBatch.objects.create(agency=agency, gallery=gallery, total=1)
    EnrollmentItem.objects.create(batch=batch, row_number=2, filename="a.jpg", manifest={})
    search = Search(agency=agency, created_by=user, purpose="other", case_number=f"{name}-CASE", threshold=0.6,
                    max_candidates=5, probe_sha256="c" * 64, probe_width=10, probe_height=10, status="done")
    search.probe.save(generated_name("jpg"), ContentFile(face_bytes("obama_small.jpg")), save=False)
    search.save()
    search.galleries.set([gallery], through_defaults={"agency": agency})
    search_face = SearchFace.objects.create(search=search, index=1, top=1, right=2, bottom=3, left=0)
    candidate = Candidate.objects.create(search_face=search_face, rank=1, face=face, image=image, distance=0.3,
                                         subject_reference=subject.reference, gallery_name=name, source="Booking",
                                         legal_basis="booking_record")
    CandidateDecision.objects.create(candidate=candidate, user=user, decision="confirmed")
    UsageRecord.objects.create(agency=agency, search_code=search.code)
    token, _key = do_create_api_token(user=user, name=f"{name} token")
    record_event("test.event", agency=agency, actor=user, target=search.code)
    return {"gallery": gallery, "subject": subject, "image": image, "batch": batch, "search": search,
            "candidate": candidate, "token": token, "membership": Membership.objects.get(user=user)}


@pytest.fixture
def two_agencies(people):
    return {"a": agency_data(people.agency, people.investigator, "Alpha"),
            "b": agency_data(people.other_agency, people.outsider, "Beta")}


# 1. A query that forgets the agency filter, inside a request, sees only the request's agency


def forgetful_view(request):
    """Deliberately filters nothing: row-level security alone keeps other agencies out."""
    return JsonResponse({
        "galleries": sorted(Gallery.objects.values_list("name", flat=True)),
        "case_numbers": sorted(Search.objects.values_list("case_number", flat=True)),
        "faces": Face.objects.count(),
        "candidates": Candidate.objects.count(),
        "members": Membership.objects.count(),
        "audit_chains": sorted({str(code) for code in AuditEvent.objects.values_list("agency_code", flat=True)}),
        "agency_setting": current_agency_id(),
    })


urlpatterns = [path("forgetful/", forgetful_view), *portal_urlpatterns]


@pytest.mark.urls("tests.test_tenancy")
def test_a_query_that_omits_the_agency_filter_sees_only_the_requests_agency(client, people, two_agencies):
    seen = client_for(client, people.admin).get("/forgetful/").json()
    assert seen["galleries"] == ["Alpha"] and seen["case_numbers"] == ["Alpha-CASE"]
    assert seen["faces"] == 1 and seen["candidates"] == 1
    assert seen["members"] == 3 and seen["audit_chains"] == [str(people.agency.code)]
    assert seen["agency_setting"] == people.agency.pk
    other = client_for(Client(), people.outsider).get("/forgetful/").json()
    assert other["galleries"] == ["Beta"] and other["faces"] == 1 and other["members"] == 1
    anonymous = Client().get("/forgetful/").json()
    assert anonymous["galleries"] == [] and anonymous["faces"] == 0 and anonymous["members"] == 0


@pytest.mark.urls("tests.test_tenancy")
def test_a_token_authenticated_api_request_sees_only_the_tokens_agency(people, two_agencies):
    _token, key = do_create_api_token(user=people.admin, name="api")
    api = Client(HTTP_AUTHORIZATION=f"Token {key}")
    response = api.get("/api/v1/galleries/")
    assert [gallery["name"] for gallery in response.json()["results"]] == ["Alpha"]
    assert api.get(f"/api/v1/searches/{two_agencies['b']['search'].code}/").status_code == 404


# 2. No agency set: nothing visible, nothing writable


def test_with_no_agency_set_every_tenant_table_shows_no_row(people, two_agencies):
    tables = [model._meta.db_table for model in tenant_models()]
    assert len(tables) >= 25
    with tenant_transaction(None), connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f'SELECT count(*) FROM "{table}"')
            assert cursor.fetchone()[0] == 0, table
    with connection.cursor() as cursor:  # the test process's own path, for comparison: the rows are there
        cursor.execute("SELECT count(*) FROM search_gallery")
        assert cursor.fetchone()[0] == 2


WRITES = [
    lambda people: Gallery.objects.create(agency=people.agency, name="Sneaky"),
    lambda people: Search.objects.create(agency=people.agency, purpose="other", case_number="X", threshold=0.6,
                                         max_candidates=1, probe_sha256="d" * 64, probe_width=1, probe_height=1),
    lambda people: Membership.objects.create(user=people.outsider, agency=people.agency, role="admin"),
    lambda people: Invitation.objects.create(agency=people.agency, email="x@x.test", role="admin", token_hash="e" * 64,
                                             expires_at="2030-01-01T00:00:00Z"),
    lambda people: UsageRecord.objects.create(agency=people.agency, search_code=uuid.uuid4()),
]


@pytest.mark.parametrize("write", WRITES)
def test_with_no_agency_set_writes_are_refused(people, write):
    with pytest.raises(DatabaseError, match="row-level security"), tenant_transaction(None):
        write(people)


def test_with_no_agency_set_updates_and_deletes_touch_nothing(people, two_agencies):
    with tenant_transaction(None):
        assert Gallery.objects.update(name="renamed") == 0
        assert Face.objects.all().delete()[0] == 0
    assert set(Gallery.objects.values_list("name", flat=True)) == {"Alpha", "Beta"}


def test_another_agencys_row_cannot_be_written_from_an_agencys_transaction(people, two_agencies):
    with pytest.raises(DatabaseError, match="row-level security"), tenant_transaction(people.agency.pk):
        Gallery.objects.create(agency=people.other_agency, name="Planted")
    with tenant_transaction(people.agency.pk):
        assert Gallery.objects.filter(agency=people.other_agency).update(name="x") == 0


def test_a_child_row_cannot_point_at_another_agencys_parent(people, two_agencies):
    """The composite foreign keys: a child's agency is its parent's."""
    beta_gallery = two_agencies["b"]["gallery"]
    with pytest.raises(DatabaseError, match="same_agency"), transaction.atomic():
        Subject.objects.create(agency=people.agency, gallery=beta_gallery, reference="mixed")
        connection.check_constraints()


# 3. Interleaved requests of two agencies on one persistent connection


@pytest.mark.django_db(transaction=True)
@pytest.mark.urls("tests.test_tenancy")
def test_interleaved_requests_of_two_agencies_on_one_connection_never_cross(people, two_agencies):
    alpha, beta = client_for(Client(), people.admin), client_for(Client(), people.outsider)
    backend_pids = set()
    for _round in range(5):
        for client, name, agency in ((alpha, "Alpha", people.agency), (beta, "Beta", people.other_agency)):
            seen = client.get("/forgetful/").json()
            assert seen["galleries"] == [name] and seen["agency_setting"] == agency.pk
            with connection.cursor() as cursor:  # after the request, the connection carries no agency
                cursor.execute("SELECT pg_backend_pid(), current_setting('app.agency_id', true)")
                pid, agency_setting = cursor.fetchone()
            backend_pids.add(pid)
            assert agency_setting in ("", None)
    assert len(backend_pids) == 1  # one persistent connection served all ten requests


# 4. What the application's role may not do


REFUSED_TO_THE_APPLICATION = [
    "UPDATE audit_auditevent SET outcome = 'x'",
    "DELETE FROM audit_auditevent",
    "TRUNCATE audit_auditevent",
    "UPDATE audit_auditchainhead SET seq = 0",
    "DELETE FROM audit_auditcheckpoint",
    "UPDATE audit_audittreehead SET root_hash = ''",
    "DELETE FROM audit_audittreehead",
    "INSERT INTO audit_auditevent (chain, seq, at, event, target, outcome, details, prev_hash, hash, actor_email) "
    "VALUES ('x', 1, now(), 'e', '', 'ok', '{}', '', '', '')",
    "UPDATE billing_usagerecord SET created = now()",
    "DELETE FROM billing_licencechange",
    "ALTER TABLE audit_auditevent DISABLE TRIGGER ALL",
    "DROP TRIGGER search_auditevent_no_change ON audit_auditevent",
    "CREATE OR REPLACE FUNCTION portal_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
    "CREATE OR REPLACE FUNCTION audit_append(text, bigint) RETURNS bigint LANGUAGE sql AS $$ SELECT 1::bigint $$",
    "CREATE OR REPLACE FUNCTION app_agency_id() RETURNS bigint LANGUAGE sql AS $$ SELECT 1::bigint $$",
    "SET session_replication_role = replica",
    "ALTER TABLE search_face NO FORCE ROW LEVEL SECURITY",
    "ALTER TABLE search_face DISABLE ROW LEVEL SECURITY",
    "DROP POLICY tenant_rows ON search_face",
    "CREATE TABLE sneaky (id int)",
    "SET ROLE faceportal_owner",
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", ["application", "platform"])
def test_the_application_and_platform_roles_cannot_change_the_record_or_its_guards(people, role):
    record_event("test.event", agency=people.agency)
    with role_connection("default") as app, app.cursor() as cursor:
        if role == "platform":
            cursor.execute("SET ROLE faceportal_platform")
        for statement in REFUSED_TO_THE_APPLICATION:
            with pytest.raises(psycopg2.Error):
                cursor.execute(statement)
        cursor.execute("SELECT count(*) FROM audit_auditevent")  # and nothing changed it
    assert AuditEvent.objects.filter(event="test.event").count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_application_role_owns_nothing_and_bypasses_nothing(people):
    with role_connection("default") as app, app.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolinherit FROM pg_roles "
                       "WHERE rolname = current_user")
        assert cursor.fetchone() == (False, False, False, False, False)
        cursor.execute("""SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                          WHERE n.nspname = 'public' AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)""")
        assert cursor.fetchone()[0] == 0
        cursor.execute("""SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                          WHERE n.nspname = 'public' AND p.proowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)""")
        assert cursor.fetchone()[0] == 0


def test_every_tenant_table_has_forced_row_level_security_and_its_policies(people):
    with connection.cursor() as cursor:
        for model in tenant_models():
            table = model._meta.db_table
            cursor.execute("SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = %s", [table])
            assert cursor.fetchone() == (True, True), table
            cursor.execute("SELECT qual, with_check FROM pg_policies WHERE tablename = %s AND policyname = 'tenant_rows'",
                           [table])
            qual, check = cursor.fetchone()
            assert "app_agency_id()" in qual and "app_agency_id()" in check, table


# Every table that belongs to an agency carries it. Exceptions say why.
NOT_TENANT_ROWS = {
    "search.DemoGallery": "the platform's marker of the built-in demo gallery",
    "privacy.SuppressedEncoding": "the platform-wide suppression list; it belongs to an erasure request, not an agency",
}


def tenant_parent_links(model):
    tenant = {m for m in tenant_models()}
    return [field for field in model._meta.concrete_fields
            if field.is_relation and field.related_model in tenant and field.name != "agency"]


def test_every_row_that_belongs_to_an_agency_carries_its_agency_id():
    tenant = set(tenant_models())
    for model in apps.get_models():
        if model in tenant or model._meta.label in NOT_TENANT_ROWS:
            continue
        assert not tenant_parent_links(model), f"{model._meta.label} reaches an agency through a join"


# Cross-agency links a child may have on purpose: a demo's search covers, and its candidates show, the built-in
# demo gallery, which belongs to another agency.
CROSS_AGENCY_LINKS = {("search_search_galleries", "gallery_id"), ("search_candidate", "face_id"),
                      ("search_candidate", "image_id")}


def test_every_link_to_a_parent_of_the_same_agency_is_checked_by_the_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT conname FROM pg_constraint WHERE contype = 'f' AND conname LIKE '%%_same_agency'")
        constraints = {name for (name,) in cursor.fetchall()}
    for model in tenant_models():
        for field in tenant_parent_links(model):
            table = model._meta.db_table
            if (table, field.column) in CROSS_AGENCY_LINKS:
                continue
            assert f"{table}_{field.column}_same_agency" in constraints, (table, field.column)


# 5. The outsider matrix over the URL map


def code_routes(patterns, prefix=""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from code_routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and "<uuid:code>" in route:
            yield route


# Which object of agency A each route's code names, by the start of its path (longest first).
OBJECT_OF_ROUTE = [
    ("accounts/team/tokens/", "token"),
    ("accounts/team/", "membership"),
    ("accounts/tokens/", "token"),
    ("api/v1/galleries/", "gallery"),
    ("api/v1/images/", "image"),
    ("api/v1/searches/", "search"),
    ("audit/searches/", "search"),
    ("platform/erasure/", "erasure"),
    ("platform/users/", "user"),
    ("sales/demos/", "agency"),
    ("transparency/", "agency"),
    ("galleries/", "gallery"),
    ("subjects/", "subject"),
    ("images/", "image"),
    ("batches/", "batch"),
    ("searches/", "search"),
    ("candidates/", "candidate"),
]


def object_key(route: str) -> str:
    for start, key in OBJECT_OF_ROUTE:
        if route.startswith(start):
            return key
    raise AssertionError(f"The route {route!r} takes a code: add it to OBJECT_OF_ROUTE, with the object it names")


def test_an_outsider_gets_404_on_every_route_that_takes_a_code(people, two_agencies):
    alpha = two_agencies["a"]
    alpha["erasure"] = ErasureRequest.objects.create(full_name="P", email="p@p.test", statement="s",
                                                     photo_sha256="f" * 64)
    alpha["agency"] = people.agency
    alpha["user"] = people.investigator
    outsider = client_for(Client(), people.outsider)
    routes = sorted(set(code_routes(get_resolver().url_patterns)))
    assert len(routes) >= 25
    for route in routes:
        code = alpha[object_key(route)].code
        route = re.sub(r"<int:\w+>", "1", route)
        for method in ("get", "post"):
            url = "/" + route.replace("<uuid:code>", str(code))
            response = getattr(outsider, method)(url)
            stranger = getattr(outsider, method)("/" + route.replace("<uuid:code>", str(uuid.uuid4())))
            assert response.status_code in (404, 405), (method, url, response.status_code)
            assert response.status_code == stranger.status_code, (method, url)  # another agency's = nobody's
        assert 404 in {outsider.get(url).status_code, outsider.post(url).status_code}, url


def test_the_readme_lists_every_cross_agency_path_and_every_path_is_used():
    readme = (BASE_DIR / "README.md").read_text()
    declared = {path for model in tenant_models() for path in getattr(model, "cross_agency", {})}
    for path in CrossAgency:
        assert f"| `{path.value}` |" in readme, path
        assert path in declared, f"{path} crosses no table"
