import subprocess
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from portal import backup


class Command(BaseCommand):
    help = ("Restores a backup_portal DIR into a new database (default: the configured one, which must not exist "
            "yet) and an empty file directory (default: the private file store).")

    def add_arguments(self, parser) -> None:
        parser.add_argument("directory", type=Path)
        parser.add_argument("--database", help="the database to create; default: the configured database's name")
        parser.add_argument("--files-dir", type=Path, help="default: the private file store")

    def handle(self, *args, directory: Path, database: str | None = None, files_dir: Path | None = None,
               **options) -> None:
        database = database or connections["default"].settings_dict["NAME"]
        files_dir = files_dir or settings.PRIVATE_MEDIA_ROOT
        try:
            backup.restore(directory, database=database, files_dir=Path(files_dir))
        except (FileExistsError, ValueError, OSError) as error:
            raise CommandError(str(error)) from error
        except subprocess.CalledProcessError as error:
            raise CommandError(f"{error.cmd[0]} failed: {error.stderr}") from error
        self.stdout.write(f"Restored {directory} into the database {database} and {files_dir}")
