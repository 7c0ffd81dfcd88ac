"""Thin Celery wrappers. Beat runs both on a schedule; nothing here uses ETA or countdown."""

from celery import shared_task
from django.utils import timezone

from . import services


@shared_task(ignore_result=True)
def sweep() -> dict:
    result = services.sweep(now=timezone.now())
    if result.found_work:
        deliver.delay()  # one delivery run for the whole batch; beat also runs it every 5 s
    return {"opened": result.opened, "advanced": result.advanced}


@shared_task(ignore_result=True)
def deliver() -> int:
    return services.notifications_deliver_due(now=timezone.now())


@shared_task(ignore_result=True)
def phone_ins_reconcile() -> int:
    return services.phone_in_days_reconcile(now=timezone.now())
