"""Thin Celery tasks: ids in, one service call. Delivery is at least once; services are idempotent."""

from celery import shared_task

from billing.services import outbox


@shared_task(name="billing.tasks.outbox_dispatch", ignore_result=True)
def outbox_dispatch() -> int:
    return outbox.outbox_dispatch()
