"""Thin Celery wrappers of homevisits' services."""

from celery import shared_task
from django.utils import timezone

from .retention import retention_run


@shared_task(ignore_result=True)
def retention() -> dict:
    """Daily (beat): delete or anonymise what the retention schedule says has expired."""
    results = retention_run(now=timezone.now(), dry_run=False)
    return {result.rule.name: result.error or result.rows for result in results}
