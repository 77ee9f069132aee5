"""Database helpers for the ledger's hot statements."""

from __future__ import annotations

import psycopg
from django.db import connection


def prepared_cursor():
    """A Django cursor whose parameters PostgreSQL binds itself (psycopg.Cursor, not the default ClientCursor).

    psycopg prepares a statement on the connection after it has run a few times, so a hot statement (a ledger
    posting is one large CTE) is planned once per connection instead of on every call. Use it for a handful of
    fixed statements only; everything else keeps Django's default client-side binding. Behind a transaction-
    pooling PgBouncer, set `prepare_threshold` to None in the connection options.
    """
    connection.ensure_connection()
    return connection._prepare_cursor(psycopg.Cursor(connection.connection))
