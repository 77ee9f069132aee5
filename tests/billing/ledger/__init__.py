"""ledger_post and ledger_reverse: postings, idempotency, validation, credit limit, reversals.

Failure paths that raise inside ledger_post's own database transaction run with real commits
(`transaction=True`), so "nothing written" is checked against what PostgreSQL actually kept.
"""
