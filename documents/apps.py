from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DocumentsConfig(AppConfig):
    name = "documents"
    verbose_name = _("Documents")

    def ready(self):
        from documents import subscribers  # noqa: F401 - registers the outbox subscribers
        from documents.services import payment_matching  # noqa: F401 - registers the invoice resolver in billing
