"""The Celery app. Settings come from Django's, under the CELERY_ prefix."""

import os

from celery import Celery
from celery.signals import beat_init, celeryd_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "homevisits.settings")

app = Celery("homevisits")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@celeryd_init.connect
@beat_init.connect
def use_worker_statement_timeout(**kwargs):
    """The worker and beat take DATABASE_WORKER_STATEMENT_TIMEOUT instead of the web's limit.
    Runs as they start, before the worker forks, so every connection they open has it."""
    from django.conf import settings
    from django.db import connections

    from .database import apply_timeouts

    for alias in settings.DATABASES:
        apply_timeouts(
            settings.DATABASES[alias], statement_seconds=settings.DATABASE_WORKER_STATEMENT_TIMEOUT
        )
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()  # reopened with the new limit when next used
