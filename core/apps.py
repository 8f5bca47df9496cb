from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The bottom layer every app builds on: the request's tenant in the database, refusals, web helpers."""

    name = "core"
