from __future__ import annotations

from django.db import models


class BillingPolicy(models.Model):
    """Business policy edited in the admin (one row): grace before suspension, postpaid terms."""

    grace_days = models.PositiveSmallIntegerField(
        default=3, help_text="Days a prepaid customer may stay beyond the credit limit before suspension."
    )
    postpaid_due_days = models.PositiveSmallIntegerField(default=10, help_text="Payment terms for postpaid invoices.")
    chunk_size = models.PositiveIntegerField(default=1000, help_text="Subscriptions per billing-run chunk.")

    class PrepaidNewSubscription(models.TextChoices):
        REFUSE = "refuse", "Refuse it (402 insufficient funds)"
        AWAIT_PAYMENT = "await_payment", "Create it awaiting payment; start it once a top-up covers the first charge"

    prepaid_new_subscription = models.CharField(
        max_length=20,
        choices=PrepaidNewSubscription.choices,
        default=PrepaidNewSubscription.REFUSE,
        help_text="A prepaid customer whose balance plus credit limit does not cover a new subscription's first "
        "charge. Other immediate charges (plan change now, options, quantity up, resume) are always refused.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "billing policy"

    def __str__(self) -> str:
        return "Billing policy"

    @classmethod
    def current(cls) -> BillingPolicy:
        policy = cls.objects.order_by("pk").first()
        return policy if policy is not None else cls()
