"""API keys: created with a random token that is shown once (only its hash is stored), revoked, never deleted."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.errors import CustomerNotFound
from billing.models import ApiKey, Customer
from config.api.keys import hash_api_key

_PREFIX_LENGTH = 10


def api_key_create(*, name: str, scope: str, customer_id: int | None = None, created_by=None) -> tuple[ApiKey, str]:
    """Create a key and return it with the raw token. The raw token is not stored: show it once."""
    if customer_id is not None and not Customer.objects.filter(pk=customer_id).exists():
        raise CustomerNotFound(
            _("Customer %(customer_id)s does not exist.") % {"customer_id": customer_id}, field="customer"
        )
    raw = ApiKey.generate()
    api_key = ApiKey(
        name=name,
        scope=scope,
        customer_id=customer_id,
        created_by=created_by,
        prefix=raw[:_PREFIX_LENGTH],
        key_hash=hash_api_key(raw),
    )
    api_key.full_clean()
    with transaction.atomic(durable=True):
        api_key.save()
    return api_key, raw


def api_key_revoke(*, api_key_id: int) -> ApiKey:
    """Revoke a key. Revoking twice keeps the first revocation time (retries are safe)."""
    with transaction.atomic(durable=True):
        api_key = ApiKey.objects.select_for_update(of=("self",), no_key=True).get(pk=api_key_id)
        if api_key.revoked_at is None:
            api_key.revoked_at = timezone.now()
            api_key.save(update_fields=["revoked_at"])
    return api_key
