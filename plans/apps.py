from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PlansConfig(AppConfig):
    name = "plans"
    verbose_name = _("Catalog and subscriptions")

    def ready(self) -> None:
        from plans import subscribers  # noqa: F401 - registers the outbox subscribers
