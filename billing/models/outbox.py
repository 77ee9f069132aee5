"""Transactional outbox: events are rows written in the same database transaction as the change.

The dispatcher task (billing.tasks.outbox_dispatch) delivers each event at least once to every
subscriber registered in billing.outbox; EventDelivery records which subscriber has it.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Event(models.Model):
    type = models.CharField(max_length=64, verbose_name=_("type"))
    payload = models.JSONField(default=dict, verbose_name=_("payload"))
    # An event is a log line about a customer (customers are never deleted): no foreign-key check on the
    # outbox's insert path. Indexed by (customer, -id).
    customer = models.ForeignKey(
        "billing.Customer",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        related_name="events",
        db_constraint=False,
        db_index=False,
        verbose_name=_("customer"),
    )
    created_at = models.DateTimeField(db_default=models.functions.Now(), editable=False, verbose_name=_("created at"))
    dispatched_at = models.DateTimeField(null=True, blank=True, verbose_name=_("dispatched at"))
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    next_attempt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next attempt at"))
    last_error = models.TextField(blank=True, verbose_name=_("last error"))

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["id"], condition=Q(dispatched_at=None), name="event_pending_idx"),
            models.Index(fields=["type", "-id"]),
            models.Index(fields=["customer", "-id"]),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"


class EventDelivery(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("event"))
    subscriber = models.CharField(max_length=100, verbose_name=_("subscriber"))
    delivered_at = models.DateTimeField(db_default=models.functions.Now(), verbose_name=_("delivered at"))

    class Meta:
        verbose_name = _("event delivery")
        verbose_name_plural = _("event deliveries")
        constraints = [
            models.UniqueConstraint(fields=["event", "subscriber"], name="event_delivery_once"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.subscriber}"


class WebhookEndpoint(models.Model):
    """An integrator's URL that receives events as signed JSON POSTs."""

    url = models.URLField(max_length=500, verbose_name=_("url"))
    secret = models.CharField(
        max_length=100, help_text=_("HMAC-SHA256 key for the Billing-Signature header."), verbose_name=_("secret")
    )
    event_types = ArrayField(
        models.CharField(max_length=64),
        default=list,
        blank=True,
        help_text=_("Empty: every event type."),
        verbose_name=_("event types"),
    )
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))
    description = models.CharField(max_length=255, blank=True, verbose_name=_("description"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return self.is_active and (not self.event_types or event_type in self.event_types)
