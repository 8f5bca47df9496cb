from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "privacy"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from privacy.suppression import SuppressionList
        from search.screening import register_screen

        register_screen(SuppressionList())
