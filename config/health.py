"""/healthz: 200 when the database and the Celery broker both answer, 503 otherwise.

The answer names the dependency that is down, never where it lives: no host, port, DSN or exception text (the
endpoint is public, for load balancers). The details go to the server's log at WARNING.
"""

from __future__ import annotations

import logging

from django.db import connection
from django.http import JsonResponse

from config.celery import app as celery_app

logger = logging.getLogger(__name__)

OK = "ok"
UNAVAILABLE = "unavailable"


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # any failure means "down"; what it was goes to the log only
        logger.warning("healthz: the database does not answer", exc_info=True)
        return False
    return True


def _broker_ok() -> bool:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            with conn.channel() as channel:
                channel.queue_declare(
                    celery_app.conf.task_default_queue, passive=False, durable=True, auto_delete=False
                )
    except Exception:  # as above
        logger.warning("healthz: the Celery broker does not answer", exc_info=True)
        return False
    return True


def healthz(request):
    checks = {"database": _database_ok(), "broker": _broker_ok()}
    ok = all(checks.values())
    return JsonResponse(
        {"status": OK if ok else UNAVAILABLE, **{name: OK if up else UNAVAILABLE for name, up in checks.items()}},
        status=200 if ok else 503,
    )
