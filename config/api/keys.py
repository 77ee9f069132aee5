"""How an API key is stored: only its hash, looked up by the hash of the bearer token a request sends."""

from __future__ import annotations

import hashlib


def hash_api_key(raw: str) -> str:
    # API keys are 256-bit random tokens: a fast hash is the right tool (no brute force possible).
    return hashlib.sha256(raw.encode()).hexdigest()
