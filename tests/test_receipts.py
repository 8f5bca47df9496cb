"""Issue 11, part 3: a search's receipt downloads, is audited, and verifies offline with the standalone
verifier (no Django, no database); a tampered event, a wrong proof or a wrong key fail."""
import json
import os
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.test import Client
from django.urls import reverse

from audit.heads import public_key_pem
from audit.models import AuditEvent, AuditTreeHead
from audit.treehead import public_pem
from tests.conftest import BASE_DIR, client_for
from tests.test_oversight import create_search

pytestmark = pytest.mark.django_db


@pytest.fixture
def receipt(people, settings, tmp_path):
    settings.AUDIT_HEAD_SINK_DIR = tmp_path / "heads"
    search = create_search(people)
    for index in range(20):  # more events after it, so that the proof has several levels
        create_search(people, case_number=f"C-{index}")
    response = client_for(Client(), people.investigator).get(reverse("search:search_receipt", args=[search.code]))
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    return search, response.json()


def verify(receipt: dict, tmp_path, key_pem: str | None = None) -> subprocess.CompletedProcess:
    (tmp_path / "receipt.json").write_text(json.dumps(receipt))
    (tmp_path / "key.pem").write_text(key_pem or public_key_pem())
    environment = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    return subprocess.run([sys.executable, "-m", "audit.receipt", "verify", str(tmp_path / "receipt.json"),
                           "--public-key", str(tmp_path / "key.pem")], check=False, capture_output=True, text=True,
                          cwd=BASE_DIR, env=environment, timeout=60)


def test_a_good_receipt_verifies_offline_and_its_download_is_audited(people, receipt, tmp_path):
    search, document = receipt
    assert document["event"]["event"] == "search.created" and document["event"]["target"] == str(search.code)
    assert document["tree_head"]["tree_size"] >= 21 and len(document["inclusion_proof"]) >= 4
    assert AuditTreeHead.objects.filter(chain=str(people.agency.code)).count() == 1  # signed on demand
    result = verify(document, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("OK: event") and str(search.code) in result.stdout
    downloaded = AuditEvent.objects.get(event="search.receipt_downloaded")
    assert downloaded.target == str(search.code) and downloaded.actor_code == people.investigator.code


def test_the_verifier_imports_neither_django_nor_the_database():
    code = "import sys, audit.receipt; print(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'psycopg2')))"
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, cwd=BASE_DIR, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr


def test_a_tampered_event_fails(receipt, tmp_path):
    _search, document = receipt
    document["canonical_event"] = document["canonical_event"].replace('"criminal_investigation"', '"other"')
    document["event"] = json.loads(document["canonical_event"])
    result = verify(document, tmp_path)
    assert result.returncode == 1 and "does not hash to the receipt's leaf" in result.stdout


def test_a_changed_readable_event_fails(receipt, tmp_path):
    _search, document = receipt
    document["event"]["actor_email"] = "someone-else@alpha.test"
    assert verify(document, tmp_path).returncode == 1


def test_a_wrong_proof_fails(receipt, tmp_path):
    _search, document = receipt
    proof = document["inclusion_proof"]
    document["inclusion_proof"] = [proof[1], proof[0], *proof[2:]]
    result = verify(document, tmp_path)
    assert result.returncode == 1 and "inclusion proof" in result.stdout


def test_a_wrong_key_fails(receipt, tmp_path):
    _search, document = receipt
    result = verify(document, tmp_path, key_pem=public_pem(Ed25519PrivateKey.generate().public_key()))
    assert result.returncode == 1 and "signature" in result.stdout


def test_a_receipt_is_refused_to_an_outsider_and_to_post(people, receipt):
    search, _document = receipt
    url = reverse("search:search_receipt", args=[search.code])
    assert client_for(Client(), people.outsider).get(url).status_code == 404
    assert client_for(Client(), people.investigator).post(url).status_code == 405
