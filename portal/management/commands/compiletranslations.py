from pathlib import Path

import polib
from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Compiles every locale/*/LC_MESSAGES/*.po into .mo, without needing GNU gettext on the machine."

    def handle(self, *args, **options) -> None:
        for locale_path in settings.LOCALE_PATHS:
            for po_path in Path(locale_path).glob("*/LC_MESSAGES/*.po"):
                mo_path = po_path.with_suffix(".mo")
                if not mo_path.exists() or mo_path.stat().st_mtime < po_path.stat().st_mtime:
                    polib.pofile(str(po_path)).save_as_mofile(str(mo_path))
                    self.stdout.write(f"compiled {po_path.relative_to(settings.BASE_DIR)}")
