"""Thin Celery tasks of the billing run: ids in, one service call. Delivery is at least once; services are
idempotent."""

import logging

from celery import shared_task
from django.conf import settings

from plans.errors import BillingRunInProgress
from plans.services import billing_run

logger = logging.getLogger(__name__)


@shared_task(name="plans.tasks.billing_run_start", ignore_result=True)
def billing_run_start() -> int | None:
    """Beat: start a run for everything due now and fan it out to a few workers (not one task per subscription).
    While another run is live, none is started: that one's workers finish it, the next beat bills the rest."""
    try:
        run = billing_run.billing_run_start(triggered_by="beat")
    except BillingRunInProgress as exc:
        logger.info("billing run not started: %s", exc.message)
        return None
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


@shared_task(name="plans.tasks.billing_run_sweep", ignore_result=True)
def billing_run_sweep() -> list[int]:
    """Beat: close as interrupted the runs whose workers died (lease run out), suspending after each."""
    return billing_run.billing_runs_close_stale()


@shared_task(name="plans.tasks.autopay_before_renewals", ignore_result=True)
def autopay_before_renewals() -> int:
    """Hourly (beat): saved methods charged before renewals the balance cannot cover (services.autopay_renewals)."""
    from plans.services.autopay_renewals import autopay_before_renewals as charge

    return charge()
