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


@shared_task(name="billing.tasks.payments_retry", ignore_result=True)
def payments_retry() -> int:
    """Every minute (beat): payments whose provider call was lost are submitted again, refunds that timed out are
    sent again (both with their own idempotency keys), stale pending payments read back from their providers."""
    from billing.services.payments import payments_resubmit
    from billing.services.refunds import refunds_retry

    return payments_resubmit() + refunds_retry()


@shared_task(name="billing.tasks.autopay_sweep", ignore_result=True)
def autopay_sweep() -> int:
    """Every 10 minutes (beat): customers with autopay whose balance fell below their threshold are charged."""
    from billing.services.autopay import autopay_sweep as sweep

    return sweep()
