from datetime import timedelta

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


# Past this, a ladder held back by errors makes /healthz fail, so that monitoring calls someone:
# it is the longest pause between two retries, so the row has failed at least once more since.
LADDER_ERRORS_FAIL_AFTER = timedelta(minutes=5)


def ladder_errors() -> HealthCheck:
    """Ladders retrying after errors. Still healthy while they are retried (the board tells the
    designated person to phone); a failure once one has been held back for five minutes."""
    now = timezone.now()
    found = selectors.ladder_failures(now=now)
    if not found["escalations"] and not found["visits"]:
        return HealthCheck(ok=True, detail="no ladder errors")
    late = now - found["late_since"]
    detail = (
        f"degraded: {found['escalations']} ladder(s) retrying after errors, "
        f"{found['visits']} visit(s) whose ladder could not start; "
        f"the oldest is {round(late.total_seconds() / 60)} min late"
    )
    return HealthCheck(ok=late <= LADDER_ERRORS_FAIL_AFTER, detail=detail)
