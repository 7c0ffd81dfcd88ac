"""PostgreSQL connections have a time limit on connecting and on each statement, so that a
database that is down or silent fails a request within seconds instead of holding it."""

import copy

import pytest
from celery.signals import beat_init, celeryd_init
from django.conf import settings as django_settings
from django.core.management.sql import emit_pre_migrate_signal
from django.db import connection

from homevisits.database import with_statement_timeout

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the time limits are PostgreSQL settings"
)


def statement_timeout_of_a_new_connection() -> str:
    fresh = connection.get_new_connection(connection.get_connection_params())
    try:
        return fresh.execute("SHOW statement_timeout").fetchone()[0]
    finally:
        fresh.close()


@on_postgresql
def test_web_connections_give_up_connecting_after_5_s_and_on_a_statement_after_15_s(db):
    assert connection.get_connection_params()["connect_timeout"] == 5
    assert statement_timeout_of_a_new_connection() == "15s"


@on_postgresql
@pytest.mark.parametrize("starting", [celeryd_init, beat_init], ids=["worker", "beat"])
def test_celery_worker_and_beat_connect_with_their_own_statement_limit(db, starting):
    saved = copy.deepcopy(django_settings.DATABASES["default"]["OPTIONS"])
    try:
        starting.send(sender=None)
        assert statement_timeout_of_a_new_connection() == "30s"
        assert connection.get_connection_params()["connect_timeout"] == 5
    finally:
        django_settings.DATABASES["default"]["OPTIONS"] = saved


@on_postgresql
def test_migrations_run_without_a_statement_limit(db):
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = '15s'")
        emit_pre_migrate_signal(verbosity=0, interactive=False, db="default")
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"


def test_a_statement_limit_replaces_one_already_in_the_options_and_keeps_the_rest():
    options = "-c search_path=homevisits -c statement_timeout=1000"
    assert with_statement_timeout(options, 30) == (
        "-c search_path=homevisits -c statement_timeout=30000"
    )
    assert with_statement_timeout("", 0.5) == "-c statement_timeout=500"
