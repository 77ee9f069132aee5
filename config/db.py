"""Database helpers for hot statements (the ledger's, the billing run's, the API's key lookup and balance read):
shared tooling, no domain's.

Prepared statements and plan_cache_mode: docs/ledger.md.
"""

from __future__ import annotations

import orjson
import psycopg
from django.db import DEFAULT_DB_ALIAS, connections

# Django opens psycopg connections with `prepare_threshold=None`, which disables prepared statements outright
# (even an explicit `prepare=True` is ignored). Raising the threshold out of reach instead leaves Django's own
# queries unprepared (they are client-side bound, and psycopg's ClientCursor never prepares) while a cursor
# that asks explicitly gets its statement prepared.
_PREPARE_ONLY_WHEN_ASKED = 2**62


class _PreparingCursor(psycopg.Cursor):
    """Server-side binding, and every statement prepared on the connection at its first run."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True if prepare is None else prepare, binary=binary)


def prepared_cursor():
    """A Django cursor whose statements PostgreSQL binds and prepares itself.

    A hot statement (a ledger posting is one large CTE) is then parsed and planned once per connection rather
    than on every call. Use it for a handful of fixed statements only; everything else keeps Django's defaults.
    Behind a transaction-pooling PgBouncer without prepared-statement support (before 1.21), don't use it
    (docs/ledger.md, "Prepared statements").

    The psycopg cursor underneath is the connection's own and lives as long as the connection: a new cursor
    would look up its parameter dumpers and result loaders afresh on every call. So don't close it (no `with`).
    """
    wrapper = connections[DEFAULT_DB_ALIAS]  # once: every `connection.x` would look the thread's connection up again
    # What Django's own cursors do first: a persistent connection (CONN_MAX_AGE) reused by a new request or task is
    # checked once (CONN_HEALTH_CHECKS) and replaced if the server closed it, so a posting that is the request's
    # first query does not fail on a dead connection.
    wrapper.close_if_health_check_failed()
    wrapper.ensure_connection()
    raw = wrapper.connection
    cursor = getattr(raw, "_billing_prepared_cursor", None)
    if cursor is None or cursor.closed:
        if raw.prepare_threshold is None:
            raw.prepare_threshold = _PREPARE_ONLY_WHEN_ASKED
        cursor = raw._billing_prepared_cursor = _PreparingCursor(raw)
    return wrapper._prepare_cursor(cursor)


def array_literal(values) -> str:
    """A PostgreSQL array literal ('{1,2}') of numbers or of texts, quoted, for a parameter cast to an array type.

    psycopg adapts a Python list element by element in Python; one string is sent as it is and parsed by the
    server, which is cheaper for the long arrays of a batch.
    """
    values = values if isinstance(values, list | tuple) else list(values)
    if all(type(value) is int for value in values):  # the common case (ids): no per-element branching
        return "{" + ",".join(map(str, values)) + "}"
    parts = []
    for value in values:
        if isinstance(value, str):
            parts.append('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')
        elif value is None:
            parts.append("NULL")
        else:
            parts.append(str(value))  # int or Decimal: str() is exact
    return "{" + ",".join(parts) + "}"


# orjson writes what json.dumps(rows, default=str, separators=(",", ":"), ensure_ascii=False) writes, about ten
# times faster (a billing chunk encodes about 1.2 MB: 17 ms with json, 2 ms with orjson): dates and times pass
# through to `str` as with json (not orjson's own ISO form), Decimals and every other type json would not know go to
# `str` too, and integer keys become strings.
_ROWS_JSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_NON_STR_KEYS


def rows_json(rows: list[dict]) -> str:
    """One JSON document for json_to_recordset; Decimals and dates as strings (exact, no float)."""
    return orjson.dumps(rows, default=str, option=_ROWS_JSON_OPTIONS).decode()


def in_transaction() -> bool:
    """Whether the caller is inside an atomic block of its own (a test case's wrapping block does not count): the
    guard of services that call out over HTTP and must never hold a transaction open meanwhile."""
    from django.db import connection

    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)
