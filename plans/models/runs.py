"""A billing run: one pass of renewals over the subscriptions due at an instant (plans.services.billing_run).

Its lifecycle: `running` while workers bill it, then closed once, by the worker that finishes last (or by the
next run or the sweep task when its lease ran out) as `completed`, `completed_with_failures` (some subscriptions
failed, each recorded with its reason), `failed` (a worker stopped on an error that is no one subscription's,
recorded in `error`) or `interrupted` (its workers died: no heartbeat within the lease). At most one run is
`running` at a time (a partial unique index). The counts add up: due_at_start = processed + failed + left, as long
as nothing outside the run changes which subscriptions are due while it runs.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class BillingRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        COMPLETED = "completed", _("Completed")
        COMPLETED_WITH_FAILURES = "completed_with_failures", _("Completed with failures")
        INTERRUPTED = "interrupted", _("Interrupted")
        FAILED = "failed", _("Failed")

    as_of = models.DateTimeField(
        help_text=_("Subscriptions due at or before this instant are billed."), verbose_name=_("as of")
    )
    status = models.CharField(max_length=30, choices=Status.choices, default=Status.RUNNING, verbose_name=_("status"))
    triggered_by = models.CharField(max_length=100, blank=True, verbose_name=_("triggered by"))
    chunk_size = models.PositiveIntegerField(default=1000, verbose_name=_("chunk size"))
    started_at = models.DateTimeField(auto_now_add=True, verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    heartbeat_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("Last sign of life of its workers (start, every chunk, end): its lease."),
        verbose_name=_("heartbeat at"),
    )
    due_at_start = models.PositiveIntegerField(default=0, verbose_name=_("due at start"))
    processed = models.PositiveIntegerField(default=0, verbose_name=_("processed"))
    charged = models.PositiveIntegerField(default=0, verbose_name=_("charged"))
    canceled = models.PositiveIntegerField(default=0, verbose_name=_("canceled"))
    suspended = models.PositiveIntegerField(default=0, verbose_name=_("suspended"))
    failed = models.PositiveIntegerField(default=0, verbose_name=_("failed"))
    left = models.PositiveIntegerField(
        default=0,
        help_text=_(
            "Still due when the run closed (locked by another transaction, or its workers died), "
            "not counting its failures: left for the next run."
        ),
        verbose_name=_("left"),
    )
    chunks = models.PositiveIntegerField(default=0, verbose_name=_("chunks"))
    failures = models.JSONField(
        default=list, blank=True, help_text=_("[{subscription_id, reason}]"), verbose_name=_("failures")
    )
    error = models.TextField(blank=True, help_text=_("Why a worker stopped (status failed)."), verbose_name=_("error"))
    workers_started = models.PositiveSmallIntegerField(default=0, verbose_name=_("workers started"))
    workers_finished = models.PositiveSmallIntegerField(default=0, verbose_name=_("workers finished"))

    class Meta:
        verbose_name = _("billing run")
        verbose_name_plural = _("billing runs")
        db_table = "billing_billingrun"  # the table kept its name when the run moved from billing to plans
        ordering = ["-id"]
        constraints = [
            # one live run at a time: a second start while one runs is refused (BillingRunInProgress)
            models.UniqueConstraint(fields=["status"], condition=Q(status="running"), name="billing_run_one_running"),
        ]

    def __str__(self) -> str:
        return f"Billing run #{self.pk} as of {self.as_of:%Y-%m-%d %H:%M}"

    @property
    def duration(self):
        return (self.finished_at - self.started_at) if self.finished_at else None

    @property
    def failed_ids(self) -> list[int]:
        return [f["subscription_id"] for f in self.failures]
