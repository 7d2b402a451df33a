from django.apps import AppConfig


class TaggingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tagging"
    verbose_name = "Photo tagging"

    def ready(self) -> None:
        # signals connects the receivers that delete files with their rows. tasks
        # registers the Celery tasks in every process, web included, before any
        # request: tagging.queue sends them by name from the registry, and loading
        # them on a first send raced between a web process's threads (an upload
        # answered 500).
        from tagging import signals, tasks  # noqa: F401
