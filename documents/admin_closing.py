"""The monthly closings (ClosingRun), read-only: period, status, progress, duration, failures with their reasons.
"Add" starts the closing of a past month and `close_again` reruns the selected ones (documents.services.closing), each
worked by the closing_work Celery task, not in the request; actions download
the documents of the selected closings' months (ZIP of PDFs, register as CSV or XLSX: documents.exports)."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing.forms import ServiceErrorsFormMixin
from config.admin import ServiceModelAdmin, ServiceRejected
from documents.exports.http import register_response, zip_response
from documents.exports.selection import documents_for_export
from documents.models import ClosingRun
from documents.services.closing import ClosingInProgress, closing_customers_due, closing_run_start


class ClosingRunStartForm(ServiceErrorsFormMixin, forms.ModelForm):
    """The month to close: YYYY-MM, a month that has ended."""

    month = forms.CharField(
        label=gettext_lazy("Month"),
        max_length=7,
        help_text=gettext_lazy(
            "YYYY-MM. Its acts and VAT invoices / УПД are issued; a month closed before issues only what is missing."
        ),
    )

    class Meta:
        model = ClosingRun
        fields = ()

    def clean_month(self) -> dt.date:
        raw = (self.cleaned_data.get("month") or "").strip()
        try:
            first = dt.date.fromisoformat(f"{raw}-01")
        except ValueError:
            raise forms.ValidationError(_("Enter the month as YYYY-MM, e.g. 2026-11.")) from None
        if first >= timezone.localdate().replace(day=1):
            raise forms.ValidationError(_("Only a month that has ended can be closed."))
        return first


def _enqueue_work(run_id: int) -> None:
    from documents.tasks import closing_work

    closing_work.delay(run_id)


def closing_start_in_background(*, month: dt.date) -> ClosingRun:
    """Start the closing of `month` (ClosingInProgress when one is live) and enqueue its work after commit."""
    run = closing_run_start(month=month)
    ClosingRun.objects.filter(pk=run.pk).update(customers_total=closing_customers_due(month=month))
    transaction.on_commit(lambda: _enqueue_work(run.pk))
    return run


def _running(month: dt.date) -> str:
    return _("The closing of %(month)s is running: wait for it to end.") % {"month": f"{month:%Y-%m}"}


@admin.register(ClosingRun)
class ClosingRunAdmin(ServiceModelAdmin):
    form = ClosingRunStartForm
    list_display = ("__str__", "period", "status", "progress", "documents_issued", "failure_count", "duration",
                    "started_at")  # fmt: skip
    list_filter = ("status", "period_start")
    date_hierarchy = "period_start"
    actions = ["close_again", "download_zip", "download_register_csv", "download_register_xlsx"]
    readonly_fields = ("period", "status", "progress", "documents_issued", "failure_count", "duration", "started_at",
                       "finished_at", "lease_until", "failure_list")  # fmt: skip

    def get_fields(self, request, obj=None):
        return ("month",) if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_close_permission(self, request) -> bool:
        return request.user.has_perm("documents.add_closingrun")

    def has_export_permission(self, request) -> bool:
        return request.user.has_perm("documents.view_document")

    @admin.display(description=gettext_lazy("Month"), ordering="period_start")
    def period(self, run: ClosingRun) -> str:
        return f"{run.period_start:%Y-%m}"

    @admin.display(description=gettext_lazy("Customers done"))
    def progress(self, run: ClosingRun) -> str:
        return f"{run.customers_done} / {run.customers_total}"

    @admin.display(description=gettext_lazy("Failures"))
    def failure_count(self, run: ClosingRun) -> int:
        return len(run.failures or [])

    @admin.display(description=gettext_lazy("Duration"))
    def duration(self, run: ClosingRun) -> str:
        if run.started_at is None:
            return "—"
        seconds = int(((run.finished_at or timezone.now()) - run.started_at).total_seconds())
        text = f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        return text if run.finished_at else _("%(duration)s so far") % {"duration": text}

    @admin.display(description=gettext_lazy("Failures"))
    def failure_list(self, run: ClosingRun) -> str:
        if not run.failures:
            return "—"
        return format_html_join(
            "",
            "<div>{}</div>",
            ((_("customer #%(id)s: %(error)s") % {"id": f.get("customer_id"), "error": f.get("error", "")},)
             for f in run.failures),
        )  # fmt: skip

    def save_model(self, request, obj, form, change):
        if change:
            raise PermissionDenied
        month = form.cleaned_data["month"]
        try:
            run = closing_start_in_background(month=month)
        except ClosingInProgress:
            raise ServiceRejected({"month": [_running(month)]}) from None
        obj.pk = run.pk
        obj._state.adding = False
        obj.refresh_from_db()
        self.message_user(
            request,
            format_html(
                _("The closing of {} started; its workers issue the documents in the background."), f"{month:%Y-%m}"
            ),  # fmt: skip
            messages.SUCCESS,
        )

    def save_related(self, request, form, formsets, change):
        pass

    @admin.action(description=gettext_lazy("Close the selected months again"), permissions=["close"])
    def close_again(self, request, queryset):
        """Rerun the selected months in the background: a closing issues only what is missing (idempotent by key)."""
        for month in sorted(set(queryset.values_list("period_start", flat=True))):
            try:
                closing_start_in_background(month=month)
            except ClosingInProgress:
                self.message_user(request, _running(month), messages.WARNING)
                continue
            self.message_user(
                request, _("The closing of %(month)s started again.") % {"month": f"{month:%Y-%m}"}, messages.SUCCESS
            )

    def _months(self, queryset) -> list[dt.date]:
        return sorted(set(queryset.values_list("period_start", flat=True)))

    def _documents(self, queryset):
        months = self._months(queryset)
        return documents_for_export(months=months), (months[0] if len(months) == 1 else None)

    @admin.action(description=gettext_lazy("Download the months' documents (ZIP of PDFs)"), permissions=["export"])
    def download_zip(self, request, queryset):
        documents, month = self._documents(queryset)
        return zip_response(documents, month=month)

    @admin.action(description=gettext_lazy("Download the months' register (CSV)"), permissions=["export"])
    def download_register_csv(self, request, queryset):
        documents, month = self._documents(queryset)
        return register_response(documents, fmt="csv", month=month)

    @admin.action(description=gettext_lazy("Download the months' register (XLSX)"), permissions=["export"])
    def download_register_xlsx(self, request, queryset):
        documents, month = self._documents(queryset)
        return register_response(documents, fmt="xlsx", month=month)
