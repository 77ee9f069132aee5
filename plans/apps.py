from django.apps import AppConfig


class PlansConfig(AppConfig):
    name = "plans"

    def ready(self) -> None:
        from plans import subscribers  # noqa: F401 - registers the outbox subscribers
