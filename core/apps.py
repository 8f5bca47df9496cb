from django.apps import AppConfig
from django.db.models.signals import post_migrate

from core.rls import sync_after_migrate


class CoreConfig(AppConfig):
    """The bottom layer every app builds on: the request's tenant in the database, refusals, web helpers."""

    name = "core"

    def ready(self) -> None:
        post_migrate.connect(sync_after_migrate, sender=self, dispatch_uid="core.rls.sync")
