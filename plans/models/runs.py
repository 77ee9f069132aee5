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


class BillingRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        COMPLETED_WITH_FAILURES = "completed_with_failures", "Completed with failures"
        INTERRUPTED = "interrupted", "Interrupted"
        FAILED = "failed", "Failed"

    as_of = models.DateTimeField(help_text="Subscriptions due at or before this instant are billed.")
    status = models.CharField(max_length=30, choices=Status.choices, default=Status.RUNNING)
    triggered_by = models.CharField(max_length=100, blank=True)
    chunk_size = models.PositiveIntegerField(default=1000)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life of its workers (start, every chunk, end): its lease."
    )
    due_at_start = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    charged = models.PositiveIntegerField(default=0)
    canceled = models.PositiveIntegerField(default=0)
    suspended = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    left = models.PositiveIntegerField(
        default=0,
        help_text="Still due when the run closed (locked by another transaction, or its workers died), "
        "not counting its failures: left for the next run.",
    )
    chunks = models.PositiveIntegerField(default=0)
    failures = models.JSONField(default=list, blank=True, help_text="[{subscription_id, reason}]")
    error = models.TextField(blank=True, help_text="Why a worker stopped (status failed).")
    workers_started = models.PositiveSmallIntegerField(default=0)
    workers_finished = models.PositiveSmallIntegerField(default=0)

    class Meta:
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
