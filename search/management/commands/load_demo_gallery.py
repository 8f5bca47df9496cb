from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from search.demo import load_demo_gallery


class Command(BaseCommand):
    help = "Loads the photos of DIR into the built-in demo gallery that sales demos search (idempotent)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("directory", type=Path)
        parser.add_argument("--source", default="", help="Where the photos come from, recorded on each image "
                            "(default: the folder's path)")

    def handle(self, *args, directory: Path, source: str, **options) -> None:
        if not directory.is_dir():
            raise CommandError(f"{directory} is not a folder")
        outcomes = load_demo_gallery(directory, source or f"Demo set {directory.resolve()}")
        if not outcomes:
            raise CommandError(f"{directory} has no JPEG, PNG or WebP photos")
        for name, outcome in outcomes:
            self.stdout.write(f"  {name:<32} {outcome}")
