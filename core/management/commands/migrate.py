from django.conf import settings
from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import DEFAULT_DB_ALIAS

OWNER_ALIAS = "owner"


class Command(DjangoMigrate):
    help = DjangoMigrate.help + " Runs as the owner role when one is configured (DATABASE_OWNER_URL, or locally)."

    def handle(self, *args, **options):
        if options["database"] == DEFAULT_DB_ALIAS and OWNER_ALIAS in settings.DATABASES:
            options["database"] = OWNER_ALIAS
        return super().handle(*args, **options)
