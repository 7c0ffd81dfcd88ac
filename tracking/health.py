from django.conf import settings
from django.utils import timezone

from homevisits.selectors import HealthCheck

from . import selectors


def sweep_heartbeat() -> HealthCheck:
    """The escalation sweep ran recently: if not, nobody is being escalated."""
    age = selectors.sweep_heartbeat_age(now=timezone.now())
    if age is None:
        return HealthCheck(ok=False, detail="The sweep has never run: is Celery beat running?")
    seconds = round(age.total_seconds(), 1)
    ok = seconds <= settings.SWEEP_STALE_AFTER_SECONDS
    return HealthCheck(ok=ok, detail=f"last ran {seconds} s ago")
