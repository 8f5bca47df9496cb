import subprocess
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from portal import backup


class Command(BaseCommand):
    help = "Backs up the database (pg_dump custom format) and the private file store into an empty DIR."

    def add_arguments(self, parser) -> None:
        parser.add_argument("directory", type=Path)

    def handle(self, *args, directory: Path, **options) -> None:
        try:
            manifest = backup.backup(directory)
        except (FileExistsError, OSError) as error:
            raise CommandError(str(error)) from error
        except subprocess.CalledProcessError as error:
            raise CommandError(f"{error.cmd[0]} failed: {error.stderr}") from error
        self.stdout.write(f"Backed up {manifest['database']} and {manifest['files_root']} into {directory}")
