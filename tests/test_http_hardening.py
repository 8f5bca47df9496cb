"""Issue 12, items 5 and 12: API errors are JSON, private answers are never cached, and a Content-Security-Policy
without inline script."""
import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from search.models import Gallery, Search
from tests.conftest import BASE_DIR, client_for, face_bytes
from tests.test_api import api_client

pytestmark = pytest.mark.django_db


def assert_json_error(response, statuses):
    assert response.status_code in statuses, response.status_code
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    assert response.json()["detail"]


def test_what_django_refuses_under_the_api_is_json(people):
    api = api_client(people.admin)
    too_big = json.dumps({"name": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)})
    assert_json_error(api.post("/api/v1/galleries/", too_big, content_type="application/json"), {400, 413})
    fields = {f"field{number}": "x" for number in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 5)}
    assert_json_error(api.post("/api/v1/searches/", fields), {400})
    gallery = Gallery.objects.create(agency=people.agency, name="G")
    long_name = SimpleUploadedFile("x" * 5000 + ".jpg", face_bytes("obama_small.jpg"))
    response = api.post(f"/api/v1/galleries/{gallery.code}/images/", {
        "image": long_name, "subject_reference": "S", "source": "s", "legal_basis": "booking_record"})
    assert response.status_code in {202, 400} and response["Content-Type"].startswith("application/json")
    assert_json_error(api.get("/api/v1/no-such-endpoint/"), {404})


def test_private_answers_are_never_stored_by_a_browser_or_a_proxy(client, people):
    search = Search.objects.create(agency=people.agency, created_by=people.investigator, purpose="other",
                                   case_number="C", threshold=0.6, max_candidates=10, probe_sha256="b" * 64,
                                   probe_width=10, probe_height=10)
    http = client_for(client, people.investigator)
    for url in (reverse("search:search_list"), reverse("search:search_detail", args=[search.code]),
                reverse("search:search_export", args=[search.code]), reverse("search:gallery_list")):
        assert "no-store" in http.get(url)["Cache-Control"], url
    api = api_client(people.investigator)
    for url in ("/api/v1/galleries/", f"/api/v1/searches/{search.code}/", "/api/v1/searches/"):
        assert "no-store" in api.get(url)["Cache-Control"], url
    auditor = client_for(Client(), people.admin)
    assert "no-store" in auditor.get(reverse("oversight:audit_export"))["Cache-Control"]


def test_every_page_has_a_policy_without_inline_script(client, people):
    policy = client.get(reverse("accounts:login"))["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"] == "'self'" and "unsafe" not in directives["script-src"]
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert "Content-Security-Policy" in client_for(client, people.investigator).get(reverse("search:search_new"))


def test_templates_have_no_inline_script_or_event_handler():
    inline_script = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
    handler = re.compile(r"""\son[a-z]+\s*=\s*["']""", re.IGNORECASE)
    offending = [str(path) for path in Path(BASE_DIR).glob("*/templates/**/*.html")
                 if inline_script.search(path.read_text()) or handler.search(path.read_text())
                 or "javascript:" in path.read_text()]
    assert offending == []
