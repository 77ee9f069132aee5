"""Admin base classes every app's admin uses: read-only pages and inlines, and a ModelAdmin that saves through
services (an error a service raises becomes a form error, not a 500)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_noop

# Django admin's own titles whose Russian reads badly with our model names ("Выберите проводка …"): translated
# again in locale/ru (a project catalog wins over Django's). Marked here so that `make messages` keeps them.
ADMIN_TITLES = (gettext_noop("Select %s to view"), gettext_noop("Select %s to change"))


class ServiceRejected(Exception):
    """Raised from save_model when a service refuses a form that had validated; the form is shown again."""

    def __init__(self, errors: dict[str | None, list[str]]):
        super().__init__(errors)
        self.errors = errors


class ServiceModelAdmin(admin.ModelAdmin):
    """A ModelAdmin whose saves call services.

    Services own their transactions (`atomic(durable=True)`), so the add/change view runs without the atomic
    block Django puts around it. When a service raises after the form validated, the view is rendered again
    with the service's errors on the form (its class gets `service_errors`, which the form adds in its
    clean()): nothing was written and the user sees why.
    """

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return self._changeform_view(request, object_id, form_url, extra_context)
        except ServiceRejected as rejected:
            request._service_errors = rejected.errors
            return self._changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        errors = getattr(request, "_service_errors", None)
        if errors:
            form = type(form.__name__, (form,), {"service_errors": errors})
        return form


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """Viewable by whoever has the view permission; nobody adds, changes or deletes rows here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyTabularInline(admin.TabularInline):
    """Related rows shown on a page; none is added, changed or deleted there."""

    extra = 0
    max_num = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
