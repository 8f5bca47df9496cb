from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The tamper-evident log of who did what. Every other app writes to it; it depends on none of them."""

    name = "audit"
    default_auto_field = "django.db.models.BigAutoField"
