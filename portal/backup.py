"""Backups that restore: the database as pg_dump's custom format, and the private file store (photos, probes)
as a tar, in one directory with a manifest. `./dev.sh backup DIR` / `./dev.sh restore DIR` (or
`manage.py backup_portal DIR` / `manage.py restore_portal DIR`); tests/test_backup.py restores a seeded portal
into a fresh database and file directory and verifies it.

The dump runs as a role that row-level security does not filter: every tenant table FORCES it, even for
the owner, and pg_dump refuses to dump a table whose rows a policy would hide. Locally that is the server's
superuser; elsewhere DATABASE_BACKUP_URL names a role made for it
(`CREATE ROLE portal_backup LOGIN BYPASSRLS; GRANT pg_read_all_data TO portal_backup;`). The restore runs as a
superuser (DATABASE_BACKUP_URL's role must then be one, or `pg_restore` is run by hand as in the README): it
recreates the schema with its owner, the grants of the application and platform roles, the row-level
security policies and the audit log's functions and triggers exactly as they were, so the roles must exist
on the target server (README "Tenancy in the database").
"""
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings
from django.db import connections
from django.utils import timezone

from portal import localservices

DUMP_NAME, FILES_NAME, MANIFEST_NAME = "database.dump", "files.tar", "manifest.json"


@dataclass
class Server:
    """How to reach the database server as the backup role: libpq's environment and the programs to run."""

    env: dict
    bin_dir: Path | None

    def program(self, name: str) -> str:
        """The local server's own pg_dump (same major version, 18); elsewhere the one on PATH (PG_BIN_DIR)."""
        if self.bin_dir is not None:
            return str(self.bin_dir / name)
        return shutil.which(name) or name

    def run(self, *arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run(arguments, env=self.env, check=True, capture_output=True, text=True)


def backup_server() -> Server:
    database = connections["default"].settings_dict
    env = {**os.environ, "PGDATABASE": database["NAME"]}
    if "DATABASE_BACKUP_URL" in os.environ:
        url = urlparse(os.environ["DATABASE_BACKUP_URL"])
        env.update({"PGHOST": url.hostname or "", "PGPORT": str(url.port or 5432), "PGUSER": url.username or "",
                    "PGPASSWORD": url.password or ""})
        bin_dir = Path(os.environ["PG_BIN_DIR"]) if "PG_BIN_DIR" in os.environ else None
        return Server(env=env, bin_dir=bin_dir)
    env.update({"PGHOST": database["HOST"], "PGUSER": localservices.SUPERUSER})
    return Server(env=env, bin_dir=localservices.postgres_binary("pg_dump").parent)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def backup(directory: Path) -> dict:
    directory.mkdir(parents=True, exist_ok=True)
    if any(directory.iterdir()):
        raise FileExistsError(f"{directory} is not empty: a backup goes into a directory of its own")
    server = backup_server()
    server.run(server.program("pg_dump"), "--format=custom", "--file", str(directory / DUMP_NAME))
    with tarfile.open(directory / FILES_NAME, "w") as archive:
        root = Path(settings.PRIVATE_MEDIA_ROOT)
        if root.exists():
            archive.add(root, arcname=".")
    manifest = {
        "created": timezone.now().isoformat(), "database": server.env["PGDATABASE"],
        "files_root": str(settings.PRIVATE_MEDIA_ROOT),
        "sha256": {name: sha256_of(directory / name) for name in (DUMP_NAME, FILES_NAME)},
    }
    (directory / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2))
    return manifest


def restore(directory: Path, *, database: str, files_dir: Path) -> None:
    """Into a database that does not exist yet (created here, owned as the dump says) and an empty directory."""
    manifest = json.loads((directory / MANIFEST_NAME).read_text())
    for name, expected in manifest["sha256"].items():
        if sha256_of(directory / name) != expected:
            raise ValueError(f"{name} does not match the manifest: the backup is damaged")
    if files_dir.exists() and any(files_dir.iterdir()):
        raise FileExistsError(f"{files_dir} is not empty: restore into an empty file directory")
    server = backup_server()
    server.run(server.program("createdb"), "--maintenance-db", "postgres", database)
    server.run(server.program("pg_restore"), "--exit-on-error", "--dbname", database, str(directory / DUMP_NAME))
    files_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(directory / FILES_NAME) as archive:
        archive.extractall(files_dir, filter="data")
