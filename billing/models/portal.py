"""Who may sign in to a customer's portal: the customer's users and their roles, and the record of sign-in
attempts that rate-limits guessing. The portal app owns no models; these belong with the customer."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class CustomerUser(models.Model):
    """A person who signs in to one customer's portal. The login itself (email, password hash, last login) is
    Django's user; this row ties it to the customer with a role."""

    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        ACCOUNTANT = "accountant", _("Accountant")
        VIEWER = "viewer", _("Viewer")

    customer = models.ForeignKey(
        "billing.Customer", on_delete=models.PROTECT, related_name="portal_users", verbose_name=_("customer")
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="customer_membership",
        verbose_name=_("user"),
    )
    role = models.CharField(max_length=12, choices=Role.choices, default=Role.VIEWER, verbose_name=_("role"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    created_by = models.CharField(max_length=255, blank=True, verbose_name=_("created by"))

    class Meta:
        verbose_name = _("portal user")
        verbose_name_plural = _("portal users")
        ordering = ["customer_id", "id"]

    def __str__(self) -> str:
        return f"{self.user.email} ({self.get_role_display()})"


class SignInAttempt(models.Model):
    """One attempt to sign in to the portal, kept for rate limiting and for the customer's security history."""

    email = models.CharField(max_length=254, verbose_name=_("email"))
    ip = models.GenericIPAddressField(null=True, blank=True, verbose_name=_("IP address"))
    succeeded = models.BooleanField(default=False, verbose_name=_("succeeded"))
    at = models.DateTimeField(db_default=models.functions.Now(), verbose_name=_("at"))

    class Meta:
        verbose_name = _("sign-in attempt")
        verbose_name_plural = _("sign-in attempts")
        ordering = ["-id"]
        indexes = [models.Index(fields=["email", "at"]), models.Index(fields=["ip", "at"])]

    def __str__(self) -> str:
        return f"{self.email} {self.at:%Y-%m-%d %H:%M}"
