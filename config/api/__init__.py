"""The REST API's shared tooling, used by every app's `api` package.

auth (API keys as bearer tokens, the caller's customer scope), keys (how a key is hashed for lookup),
idempotency (the Idempotency-Key header), problems (problem+json errors), pagination (cursor pages),
filters (django-filter query validation), serializers (strict input), schema (OpenAPI helpers).
The API key and idempotency record models belong to billing; this package finds them through the
API_KEY_MODEL and IDEMPOTENCY_RECORD_MODEL settings.
"""
