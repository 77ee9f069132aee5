"""Thin Celery tasks: ids in, one service call. Delivery is at least once; services are idempotent."""

from celery import shared_task

from billing.services import ledger_verify as verification
from billing.services import outbox


@shared_task(name="billing.tasks.outbox_dispatch", ignore_result=True)
def outbox_dispatch() -> int:
    return outbox.outbox_dispatch()


@shared_task(name="billing.tasks.ledger_verify", ignore_result=True)
def ledger_verify() -> bool:
    """Daily (beat): prove the cached balances and transactions against the entries; a difference logs at ERROR."""
    return bool(verification.ledger_verify().ok)
