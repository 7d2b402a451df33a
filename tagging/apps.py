from django.apps import AppConfig


class TaggingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tagging"
    verbose_name = "Photo tagging"

    def ready(self) -> None:
        from tagging import signals  # noqa: F401  (connects the receivers)
