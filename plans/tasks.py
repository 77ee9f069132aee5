"""Thin Celery tasks of the billing run: ids in, one service call. Delivery is at least once; services are
idempotent."""

from celery import shared_task
from django.conf import settings

from plans.services import billing_run


@shared_task(name="plans.tasks.billing_run_start", ignore_result=True)
def billing_run_start() -> int:
    """Beat: start a run for everything due now and fan it out to a few workers (not one task per subscription)."""
    run = billing_run.billing_run_start(triggered_by="beat")
    if run.due_at_start:
        for _ in range(max(1, settings.BILLING_RUN_WORKERS)):
            billing_run_work.delay(run.pk)
    else:
        billing_run.billing_run_finish_if_done(run_id=run.pk)
    return run.pk


@shared_task(name="plans.tasks.billing_run_work", ignore_result=True, acks_late=True)
def billing_run_work(run_id: int) -> int:
    """A worker's share of a run; a killed worker's chunk rolls back and the redelivered task resumes."""
    return billing_run.billing_run_work(run_id=run_id)
