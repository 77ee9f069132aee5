"""Subscriptions: create (exact first charges), read, change plan (preview = what is posted), cancel,
pause, resume, options; idempotency, scopes and bad input that writes nothing."""
