"""The stack itself: settings, health, the Celery round trip, the seed and the management commands."""
import os
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.models import Agency, Membership, User
from portal.celery import ping
from tests.conftest import BASE_DIR, new_audit_signing_key

pytestmark = pytest.mark.django_db


def run_manage(*args: str, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL"}}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(extra_env or {})
    return subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True,
                          text=True, timeout=120)


def test_deploy_check_is_clean_under_production_settings():
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING",
        extra_env={"PORTAL_PRODUCTION": "1", "SECRET_KEY": "x" * 20 + "production-secret-for-the-check-0123456789",
                   "ALLOWED_HOSTS": "portal.example.org", "STRIPE_SECRET_KEY": "sk_live_for_the_check",
                   "STRIPE_WEBHOOK_SECRET": "whsec_for_the_check", "AUDIT_SIGNING_KEY": new_audit_signing_key()},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key():
    result = run_manage("check", extra_env={"PORTAL_PRODUCTION": "1", "ALLOWED_HOSTS": "portal.example.org"})
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_a_bad_environment_value_fails_loudly_with_its_name():
    result = run_manage("check", extra_env={"MAX_UPLOAD_BYTES": "fifteen"})
    assert result.returncode != 0
    assert "MAX_UPLOAD_BYTES='fifteen' is not an integer" in result.stderr


def test_manage_py_finds_the_local_services_with_no_environment():
    result = run_manage("shell", "-c", "from django.db import connection; connection.ensure_connection(); print('db ok')")
    assert result.returncode == 0, result.stderr
    assert "db ok" in result.stdout


def test_seed_is_idempotent_and_creates_the_demo_people(capsys):
    call_command("seed_demo")
    call_command("seed_demo")
    assert Agency.objects.exclude(kind=Agency.Kind.DEMO).count() == 2
    assert Membership.objects.filter(agency__name="Metro City Police Department").count() == 2
    assert User.objects.filter(platform_role=User.PlatformRole.OPERATOR).count() == 1
    assert User.objects.filter(platform_role=User.PlatformRole.SALES).count() == 1
    output = capsys.readouterr().out
    assert "investigator@metro.example" in output and "password" in output.lower()
    assert Client().login(username="investigator@metro.example", password="demo-portal-2026!")


def test_passwords_are_hashed_with_argon2(people):
    assert people.admin.password.startswith("argon2")


def test_a_task_makes_a_round_trip_through_redis_to_the_worker(worker):
    assert ping.apply_async().get(timeout=10) == "pong"


def test_healthz_reports_every_service_and_turns_503_when_the_worker_stops(worker, client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body == {**body, "database": "ok", "redis": "ok", "celery": "ok", "status": "ok"}
    assert body["pgvector"].startswith("0.")
    worker.stop()
    try:
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.json()["celery"] != "ok"
        assert response.json()["database"] == "ok"
    finally:
        worker.start()
    assert client.get("/healthz").status_code == 200


def test_healthz_rejects_other_methods(client):
    assert client.post("/healthz").status_code == 405
