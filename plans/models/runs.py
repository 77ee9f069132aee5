"""A billing run: one pass of renewals over the subscriptions due at an instant (plans.services.billing_run)."""

from __future__ import annotations

from django.db import models


class BillingRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    as_of = models.DateTimeField(help_text="Subscriptions due at or before this instant are billed.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    triggered_by = models.CharField(max_length=100, blank=True)
    chunk_size = models.PositiveIntegerField(default=1000)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    due_at_start = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    charged = models.PositiveIntegerField(default=0)
    canceled = models.PositiveIntegerField(default=0)
    suspended = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    chunks = models.PositiveIntegerField(default=0)
    failures = models.JSONField(default=list, blank=True, help_text="[{subscription_id, reason}]")
    workers_started = models.PositiveSmallIntegerField(default=0)
    workers_finished = models.PositiveSmallIntegerField(default=0)

    class Meta:
        db_table = "billing_billingrun"  # the table kept its name when the run moved from billing to plans
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Billing run #{self.pk} as of {self.as_of:%Y-%m-%d %H:%M}"

    @property
    def duration(self):
        return (self.finished_at - self.started_at) if self.finished_at else None

    @property
    def failed_ids(self) -> list[int]:
        return [f["subscription_id"] for f in self.failures]
