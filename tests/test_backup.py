"""A backup restores: a seeded portal (faces, a search, audit chains) is backed up, restored into a fresh
database and an empty file directory, and the restored copy has every row and file and passes verify_audit."""
import os
import subprocess
import sys
import uuid

import psycopg2
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from audit.models import AuditEvent
from portal import backup
from search import actions
from search.images import check_image
from search.models import Face, GalleryImage, Search
from search.validation import SearchParameters
from tests.conftest import BASE_DIR, face_bytes, superuser_connection, worker_database_url
from tests.test_queues import enroll_in_process

pytestmark = pytest.mark.django_db(transaction=True)


def counts(cursor) -> dict:
    cursor.execute("SET row_security = off")  # a superuser's count of every agency's rows
    found = {}
    for table in ("search_face", "search_galleryimage", "search_search", "audit_auditevent"):
        cursor.execute(f"SELECT count(*) FROM {table}")
        found[table] = cursor.fetchone()[0]
    cursor.execute("SELECT count(DISTINCT chain) FROM audit_auditevent")
    found["chains"] = cursor.fetchone()[0]
    return found


def test_a_backup_restores_into_a_fresh_database_and_passes_verify_audit(people, tmp_path):
    gallery = enroll_in_process(people.agency, ["obama.jpg", "biden.jpg"])
    enroll_in_process(people.other_agency, ["lin-manuel-miranda.png"])
    actions.do_create_search(agency=people.agency, actor=people.investigator,
                             probe=check_image(face_bytes("obama2.jpg")), purpose="criminal_investigation",
                             case_number="BACKUP-1", galleries=[gallery],
                             parameters=SearchParameters(min_similarity=50, max_candidates=5))
    assert Face.objects.count() == 3 and Search.objects.count() == 1
    assert AuditEvent.objects.values("chain").distinct().count() >= 2
    with superuser_connection() as original, original.cursor() as cursor:
        expected = counts(cursor)

    call_command("backup_portal", str(tmp_path / "backup"))
    with pytest.raises(Exception, match="not empty"):
        call_command("backup_portal", str(tmp_path / "backup"))

    restored_name = f"restored_{uuid.uuid4().hex[:8]}"
    restored_files = tmp_path / "restored-files"
    call_command("restore_portal", str(tmp_path / "backup"), database=restored_name, files_dir=str(restored_files))
    try:
        with psycopg2.connect(host=connection.settings_dict["HOST"], user="postgres", dbname=restored_name) as db:
            with db.cursor() as cursor:
                assert counts(cursor) == expected
                cursor.execute("SELECT relname FROM pg_class WHERE relrowsecurity AND relforcerowsecurity "
                               "AND relname = 'search_face'")
                assert cursor.fetchone() is not None  # row-level security came back, forced
                cursor.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'search_face'")
                assert cursor.fetchone()[0] == connection.settings_dict["USER"] + "_owner"
        for image in GalleryImage.objects.all():
            assert (restored_files / image.file.name).read_bytes() == image.file.open("rb").read()
        # The application's role, on the restored copy: the audit chains verify.
        database_url = worker_database_url().replace(f"/{connection.settings_dict['NAME']}?", f"/{restored_name}?")
        verified = subprocess.run([sys.executable, "manage.py", "verify_audit"], cwd=BASE_DIR, capture_output=True,
                                  text=True, timeout=120, env={**os.environ, "DATABASE_URL": database_url})
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert verified.stdout.count(": ok,") == expected["chains"]
    finally:
        admin = superuser_connection()  # autocommit: DROP DATABASE runs outside a transaction
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{restored_name}" WITH (FORCE)')
        admin.close()


def test_a_damaged_backup_is_refused(people, tmp_path):
    backup.backup(tmp_path / "backup")
    dump = tmp_path / "backup" / backup.DUMP_NAME
    dump.write_bytes(dump.read_bytes()[:-10])
    with pytest.raises(ValueError, match="does not match the manifest"):
        backup.restore(tmp_path / "backup", database=f"never_{uuid.uuid4().hex[:6]}", files_dir=tmp_path / "files")
    assert settings.PRIVATE_MEDIA_ROOT.exists()
