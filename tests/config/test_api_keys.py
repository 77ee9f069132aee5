"""config.api finds billing's API keys by the hash of the bearer token: both sides must hash alike."""

from __future__ import annotations

from billing.models import ApiKey
from billing.models.api import hash_api_key as billing_hash_api_key
from config.api.keys import hash_api_key


def test_config_hashes_an_api_key_as_billing_stores_it():
    # given
    raw = ApiKey.generate()

    # when
    looked_up = hash_api_key(raw)

    # then
    assert looked_up == billing_hash_api_key(raw)
    assert len(looked_up) == 64
