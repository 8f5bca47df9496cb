from django.apps import AppConfig


class OversightConfig(AppConfig):
    """Agency administrators' and auditors' review of their agency's searches and audit log."""

    name = "oversight"
    default_auto_field = "django.db.models.BigAutoField"
