"""The OpenAPI schema is the API's contract (issue 12, item 6): schemathesis generates requests from it, valid
and invalid ones, and checks every answer with all its checks: no server error, only documented statuses,
content types and headers, bodies that match the documented schema, invalid data refused, authentication not
ignored. A bounded, derandomized run, then the answers that random codes never reach (real objects, real
photos) through the same checks."""
import dataclasses
import json
import re
from io import BytesIO

import pytest
import werkzeug
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import DataGenerationMethod, GenerationConfig, from_dict, openapi
from schemathesis.checks import ALL_CHECKS
from schemathesis.exceptions import CheckFailed, SkipTest
from schemathesis.serializers import SERIALIZERS, Binary, MultipartSerializer
from werkzeug.datastructures import MultiDict

from portal.wsgi import application
from search.models import Candidate, Face, Gallery, GalleryImage, Search, SearchFace, Subject
from tests.conftest import face_bytes
from tests.test_api import api_client

EXAMPLES_PER_OPERATION = 20  # for each operation, of valid and of invalid requests each
# Codes are UUIDs (`format: uuid`), which JSON Schema does not define: generate real ones, or every valid request
# would name no object at all.
openapi.format("uuid", st.uuids().map(str))
MULTIPART = "multipart/form-data"


@pytest.fixture
def connection_kept_open():
    """schemathesis calls the WSGI application itself, whose end of request closes the database connection and
    with it the test's transaction; Django's test client keeps it open the same way."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


class WsgiMultipart(MultipartSerializer):
    """schemathesis hands werkzeug a multipart body as it was generated: a photo (`format: binary`) would never
    arrive as a file, so the upload endpoints would only ever answer "no file", and an invalid body that is not an
    object (a number, say) crashes werkzeug instead of reaching the portal. Send files as files, fields as text and
    anything else as the raw body, as schemathesis does over HTTP."""

    def as_werkzeug(self, context, value):
        if not isinstance(value, dict):
            return {"data": str(value).encode()}
        parts, _ = context.case.operation.prepare_multipart(value)
        form = MultiDict()
        for name, part in parts or []:
            content = part[1] if isinstance(part, tuple) else part  # (None, value) is a plain field
            content = content.data if isinstance(content, Binary) else content
            form.add(name, (BytesIO(content), "upload") if isinstance(content, bytes) else str(content))
        return {"data": form}


@pytest.fixture
def files_sent_as_files():
    builtin = SERIALIZERS[MULTIPART]
    SERIALIZERS[MULTIPART] = WsgiMultipart
    yield
    SERIALIZERS[MULTIPART] = builtin


class Contract:
    """The schema as the API serves it, and the failures of schemathesis's checks, one example of each."""

    def __init__(self, token: str):
        self.auth = {"Authorization": token}
        # Through the WSGI application too: Django's test client would connect the closing of connections again.
        served = werkzeug.Client(application).get("/api/v1/schema/", headers={**self.auth, "Accept": "application/json"})
        assert served.status_code == 200
        self.schema = from_dict(json.loads(served.get_data()), app=application,
                                # the token is sent as given; generated credentials would all be invalid ones
                                generation_config=GenerationConfig(with_security_parameters=False))
        self.failures: dict[str, str] = {}
        self.statuses: dict[str, set[int]] = {}
        self.unsatisfiable: list[str] = []

    def check(self, case) -> None:
        # ignored_auth writes invalid credentials into these, which are None without generated ones
        case.headers, case.cookies = case.headers or {}, case.cookies or {}
        if case.query:  # an empty list is no parameter at all in a URL: judge the request that is sent
            case.query = {name: value for name, value in case.query.items() if value != []}
        response = case.call(headers=self.auth)
        name = case.operation.verbose_name
        self.statuses.setdefault(name, set()).add(response.status_code)
        try:
            case.validate_response(response, checks=ALL_CHECKS, headers=self.auth,
                                   transport_kwargs={"headers": self.auth})
        except CheckFailed as error:
            # schemathesis numbers the failed checks in its message: "1. Response violates schema"
            for failure in re.findall(r"^\d+\. (.+)$", str(error), re.MULTILINE):
                self.failures.setdefault(f"{name}: {failure}",
                                         f"{case.method} {case.formatted_path} {case.query or ''} {case.media_type} {case.body!r:.200} -> {response.status_code}")

    def fuzz(self, codes: dict[str, str]) -> None:
        """Generated requests to every operation. A random code names nothing (404 before the body is read), so
        half of the valid requests, and all the invalid ones, name the agency's own object of that path: an
        invalid request is then invalid in what it sends, not only in its path."""
        for result in self.schema.get_all_operations():
            operation = result.ok()
            known = {"code": codes[operation.path]} if operation.path in codes else {}
            for method in DataGenerationMethod.all():
                try:
                    self.generate(operation, method, known)
                except (Unsatisfiable, SkipTest):
                    # an operation whose only input is its code has no invalid request left to make
                    assert method.is_negative, operation.verbose_name
                    self.unsatisfiable.append(operation.verbose_name)

    def generate(self, operation, method: DataGenerationMethod, known: dict) -> None:
        fixed = {"path_parameters": known} if method.is_negative and known else {}  # explicit: never negated

        @hypothesis_settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, deadline=None, database=None,
                             phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(data_generation_method=method, **fixed), aimed=st.booleans())
        def run(case, aimed):
            if aimed and known:
                case.path_parameters = dict(known)
            if not operation.path_parameters and case.meta:
                # schemathesis 3.39 marks the path of an operation that has no path parameters as negated, and
                # then takes a request whose only invalid part is an unknown query parameter (which the API
                # ignores, as is usual and as the check itself means to allow) for accepted invalid data
                case.meta = dataclasses.replace(case.meta, path_parameters=None)
            self.check(case)

        run()

    def call(self, method: str, path: str, **parts) -> None:
        self.check(self.schema[path][method].make_case(**parts))


@pytest.fixture
def stored(people):
    """An enrolled photo and a finished search with a candidate, as the workers leave them."""
    gallery = Gallery.objects.create(agency=people.agency, name="Bookings")
    subject = Subject.objects.create(gallery=gallery, reference="OB-1")
    image = GalleryImage.objects.create(agency=people.agency, gallery=gallery, subject=subject, sha256="a" * 64,
                                        width=10, height=10, source="Booking system", legal_basis="court_order",
                                        file="x.jpg", status=GalleryImage.Status.ENROLLED)
    face = Face.objects.create(image=image, gallery=gallery, agency=people.agency, top=0, right=9, bottom=9, left=0,
                               encoding=[0.0] * 128)
    search = Search.objects.create(agency=people.agency, created_by=people.admin, purpose="other", case_number="C-1",
                                   threshold=0.6, max_candidates=10, probe_sha256="b" * 64, probe_width=10,
                                   probe_height=10, status=Search.Status.DONE)
    search_face = SearchFace.objects.create(search=search, index=1, top=0, right=9, bottom=9, left=0)
    Candidate.objects.create(search_face=search_face, rank=1, face=face, image=image, image_sha256=image.sha256,
                             distance=0.4, subject_reference="OB-1", gallery_name=gallery.name,
                             source=image.source, legal_basis=image.legal_basis)
    return gallery, image, search


@pytest.mark.django_db
@pytest.mark.usefixtures("connection_kept_open", "files_sent_as_files")
@pytest.mark.filterwarnings("ignore:jsonschema.* is deprecated:DeprecationWarning")  # inside schemathesis 3
def test_the_api_keeps_to_its_openapi_schema(people, stored):
    gallery, image, search = stored
    contract = Contract(api_client(people.admin).defaults["HTTP_AUTHORIZATION"])
    contract.fuzz({"/api/v1/galleries/{code}/images/": str(gallery.code), "/api/v1/images/{code}/": str(image.code),
                   "/api/v1/searches/{code}/": str(search.code)})
    contract.call("GET", "/api/v1/galleries/")
    contract.call("GET", "/api/v1/searches/")
    contract.call("GET", "/api/v1/images/{code}/", path_parameters={"code": str(image.code)})
    contract.call("GET", "/api/v1/searches/{code}/", path_parameters={"code": str(search.code)})
    contract.call("POST", "/api/v1/galleries/{code}/images/", path_parameters={"code": str(gallery.code)},
                  media_type=MULTIPART,
                  body={"image": face_bytes("obama.jpg"), "subject_reference": "OB-2", "source": "Booking system",
                        "legal_basis": "court_order", "captured_at": "2024-01-05"})
    contract.call("POST", "/api/v1/searches/", media_type=MULTIPART,
                  body={"probe": face_bytes("obama2.jpg"), "purpose": "criminal_investigation", "case_number": "C-2",
                        "galleries": [str(gallery.code)], "min_similarity": 50, "max_candidates": 5})
    statuses = contract.statuses
    print(f"Statuses seen: {statuses}; no invalid request for {contract.unsatisfiable}")
    found = sorted(f"{failure} (e.g. {example})" for failure, example in contract.failures.items())
    assert not found, "\n".join(found)
    # the run reached the answers that matter, not only refusals
    assert {200, 404} <= statuses["GET /api/v1/images/{code}/"]
    assert {201, 400} <= statuses["POST /api/v1/galleries/"]
    assert {202, 400, 404} <= statuses["POST /api/v1/galleries/{code}/images/"]
    assert {202, 400} <= statuses["POST /api/v1/searches/"]
    assert 200 in statuses["GET /api/v1/searches/{code}/"]
