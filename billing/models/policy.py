from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class BillingPolicy(models.Model):
    """Business policy edited in the admin (one row): grace before suspension, postpaid terms."""

    grace_days = models.PositiveSmallIntegerField(
        default=3,
        help_text=_("Days a prepaid customer may stay beyond the credit limit before suspension."),
        verbose_name=_("grace days"),
    )
    postpaid_due_days = models.PositiveSmallIntegerField(
        default=10, help_text=_("Payment terms for postpaid invoices."), verbose_name=_("postpaid due days")
    )
    chunk_size = models.PositiveIntegerField(
        default=1000, help_text=_("Subscriptions per billing-run chunk."), verbose_name=_("chunk size")
    )

    class PrepaidNewSubscription(models.TextChoices):
        REFUSE = "refuse", _("Refuse it (402 insufficient funds)")
        AWAIT_PAYMENT = "await_payment", _("Create it awaiting payment; start it once a top-up covers the first charge")

    prepaid_new_subscription = models.CharField(
        max_length=20,
        choices=PrepaidNewSubscription.choices,
        default=PrepaidNewSubscription.REFUSE,
        verbose_name=_("new subscription without funds"),
        help_text=_(
            "A prepaid customer whose balance plus credit limit does not cover a new subscription's first charge. "
            "Other immediate charges (plan change now, options, quantity up, resume) are always refused."
        ),
    )
    invoice_days_before_renewal = models.PositiveSmallIntegerField(
        default=5,
        help_text=_(
            "Customers who pay by bank transfer get an invoice for payment this many days before a renewal that "
            "their balance cannot cover."
        ),
        verbose_name=_("invoice days before renewal"),
    )
    closing_day = models.PositiveSmallIntegerField(
        default=1,
        help_text=_("Day of the month the previous month's acts and VAT invoices are issued (1–5)."),
        verbose_name=_("closing day"),
    )
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = verbose_name_plural = _("billing policy")

    def __str__(self) -> str:
        return "Billing policy"

    @classmethod
    def current(cls) -> BillingPolicy:
        policy = cls.objects.order_by("pk").first()
        return policy if policy is not None else cls()
