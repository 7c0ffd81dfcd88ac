"""Shared pieces for benchmarks: a throwaway test database, and timing statistics.

Benchmarks print figures; they never pass or fail on time.
"""

import logging
import os
import statistics
import time
from contextlib import contextmanager

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "homevisits.settings")
os.environ.setdefault("DEBUG", "true")
django.setup()
# Benchmarks print figures; the app's own request and login logs would drown them.
for noisy in ("axes", "django.request", "homevisits.notifications"):
    logging.getLogger(noisy).setLevel(logging.ERROR)

from django.test.utils import (  # noqa: E402  (needs django.setup first)
    setup_databases,
    setup_test_environment,
    teardown_databases,
    teardown_test_environment,
)


def signed_in_client(user):
    """A test client signed in as `user`, second factor included where their role needs one,
    so that the pages measured are the real ones and not the code page's redirect."""
    from tests.support import SignedInClient

    client = SignedInClient(HTTP_HOST="localhost")
    client.force_login(user)
    return client


@contextmanager
def test_database():
    """A fresh test database (test_<name> on PostgreSQL, in-memory on SQLite), removed after."""
    setup_test_environment()
    _measure_templates_as_production_renders_them()
    old_config = setup_databases(verbosity=0, interactive=False)
    try:
        yield
    finally:
        teardown_databases(old_config, verbosity=0)
        teardown_test_environment()


def _measure_templates_as_production_renders_them():
    """The test environment wraps every template render in a signal for assertions; that
    costs a third of a big page's time, so benchmarks put the plain renderer back."""
    from django.template import Template
    from django.test.utils import _TestState

    Template._render = _TestState.saved_data.template_render


def statements(action):
    """(what `action` returns, how many SQL statements it sent), counted as the tests count
    them (connection.queries, BEGIN and COMMIT included), however many there are."""
    from collections import deque

    from django.db import connection

    saved, connection.queries_log = connection.queries_log, deque(maxlen=10_000_000)
    forced, connection.force_debug_cursor = connection.force_debug_cursor, True
    try:
        result = action()
        return result, len(connection.queries_log)
    finally:
        connection.queries_log, connection.force_debug_cursor = saved, forced


def timed_ms(action, *, repeat: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        action()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return (
        f"n={len(ordered)} median={statistics.median(ordered):.2f} ms "
        f"p95={p95:.2f} ms max={ordered[-1]:.2f} ms"
    )
