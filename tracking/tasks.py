"""Thin Celery wrappers. Beat runs them on a schedule; nothing here uses ETA or countdown."""

import time
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import services


@shared_task(ignore_result=True)
def sweep() -> dict:
    """Sweep now; and if something falls due before beat's next turn, sweep again at that very
    moment, so that a deadline is acted on within milliseconds rather than up to a second
    late. The wait is never longer than beat's interval, and the database still decides."""
    interval = timedelta(seconds=settings.SWEEP_INTERVAL_SECONDS)
    result = _sweep_and_deliver(ahead=interval)
    if result.next_due_at is not None:
        wait = (result.next_due_at - timezone.now()).total_seconds()
        if 0 < wait < interval.total_seconds():
            time.sleep(wait + 0.001)
            result = _sweep_and_deliver(ahead=timedelta(0))
    return {"opened": result.opened, "advanced": result.advanced}


def _sweep_and_deliver(*, ahead: timedelta) -> services.SweepResult:
    result = services.sweep(now=timezone.now(), ahead=ahead)
    if result.found_work:
        deliver.delay()  # one delivery run for the whole batch; beat also runs it every 5 s
    return result


@shared_task(ignore_result=True)
def deliver() -> int:
    return services.notifications_deliver_due(now=timezone.now())


@shared_task(ignore_result=True)
def phone_ins_reconcile() -> int:
    return services.phone_in_days_reconcile(now=timezone.now())
