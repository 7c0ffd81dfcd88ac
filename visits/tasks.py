"""Thin Celery wrappers. Booking queues `outlook_sync` as it commits; beat runs it every few
seconds too, for retries and for anything a lost message left behind."""

from celery import shared_task
from django.utils import timezone

from . import outlook


@shared_task(ignore_result=True)
def outlook_sync() -> int:
    return outlook.outlook_events_deliver_due(now=timezone.now())
