"""/healthz answers 503 within seconds when the database or the broker is down or silent, and
tells anyone only "ok" or "down" for each part: errors and counts are for site administrators."""

import json
import os
import socket
import subprocess
import sys
import threading
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from homevisits.models import Role
from tests.factories import UserFactory, member
from tracking.models import Heartbeat
from tracking.services import heartbeat_record

PROJECT_DIR = Path(__file__).resolve().parents[2]
EVERY_PART = {"database", "broker", "sweep", "ladder"}

# Fetch /healthz in a fresh process whose settings point at a dead or silent service.
FETCH_HEALTHZ = """
import django, json
django.setup()
from django.test import Client
response = Client().get("/healthz", HTTP_HOST="localhost")
print(json.dumps({"status_code": response.status_code, "body": response.json()}))
"""

NOTHING_LISTENS = "127.0.0.1:9"  # the discard port: nothing answers here


def healthz_in_subprocess(**env_overrides):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "homevisits.settings", **env_overrides}
    result = subprocess.run(
        [sys.executable, "-c", FETCH_HEALTHZ],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,  # the test fails rather than hangs if a check is unbounded
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


ACCEPTED: dict[str, list] = {}  # the connections each silent server took, by address


@contextmanager
def silent_server():
    """A TCP port that accepts connections and never answers: a hung database or Redis."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def accept_forever():
        try:
            while True:
                accepted.append(server.accept()[0])
        except OSError:  # the server was closed
            pass

    threading.Thread(target=accept_forever, daemon=True).start()
    address = f"127.0.0.1:{server.getsockname()[1]}"
    ACCEPTED[address] = accepted
    try:
        yield address
    finally:
        server.close()
        for conn in accepted:
            conn.close()


def test_healthz_is_200_and_says_only_ok_for_each_part_when_everything_is_up(db):
    heartbeat_record(name="sweep", now=timezone.now())
    response = Client().get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": dict.fromkeys(EVERY_PART, "ok")}
    assert response["Cache-Control"].startswith("max-age=0")


def test_a_site_administrator_also_sees_what_each_check_found(client, team, db):
    heartbeat_record(name="sweep", now=timezone.now())
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    body = client.get(reverse("healthz")).json()
    assert body["checks"] == dict.fromkeys(EVERY_PART, "ok")
    assert body["details"]["database"] == connection.vendor
    assert body["details"]["sweep"].startswith("last ran ")
    assert body["details"]["ladder"] == "no ladder errors"
    client.force_login(member(team, Role.MANAGER).user)  # a team's manager is not one
    assert "details" not in client.get(reverse("healthz")).json()


def test_healthz_is_503_naming_the_database_when_it_is_down():
    result = healthz_in_subprocess(DATABASE_URL=f"postgres://nobody@{NOTHING_LISTENS}/nothing")
    assert result["status_code"] == 503
    assert result["body"] == {
        "status": "down",
        # the sweep's heartbeat and the ladders live in the database: not known either
        "checks": {"database": "down", "broker": "ok", "sweep": "down", "ladder": "down"},
    }


def the_test_database_url() -> dict:
    """The subprocess reads the database the tests made (the configured one may not exist)."""
    if connection.vendor != "postgresql":
        return {}
    db = connection.settings_dict
    return {
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    }


def test_healthz_is_503_naming_the_broker_when_it_is_down(db):
    result = healthz_in_subprocess(
        CELERY_BROKER_URL=f"redis://{NOTHING_LISTENS}/0", **the_test_database_url()
    )
    assert result["status_code"] == 503
    assert result["body"]["checks"]["broker"] == "down"
    assert result["body"]["checks"]["database"] == "ok"


def test_healthz_answers_503_when_the_database_and_redis_accept_connections_but_never_reply():
    with silent_server() as address:
        result = healthz_in_subprocess(
            DATABASE_URL=f"postgres://nobody@{address}/nothing",
            CELERY_BROKER_URL=f"redis://{address}/0",
        )
    assert result["status_code"] == 503
    assert result["body"]["checks"] == dict.fromkeys(EVERY_PART, "down")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="locks and statement limits")
def test_healthz_answers_503_when_a_check_waits_on_a_lock(db, settings):
    """A migration holding a table, say: the check's statement limit gives up on it."""
    settings.HEALTHZ_TIMEOUT_SECONDS = 0.2
    locker = connection.get_new_connection(connection.get_connection_params())
    locker.execute(f"LOCK TABLE {Heartbeat._meta.db_table} IN ACCESS EXCLUSIVE MODE")
    answered = {}

    def fetch():
        try:
            answered["response"] = Client().get(reverse("healthz"))
        finally:
            connection.close()  # this thread's own connection

    request = threading.Thread(target=fetch)
    request.start()
    request.join(timeout=10)
    locker.rollback()
    locker.close()
    assert not request.is_alive(), "/healthz waited on the lock"
    response = answered["response"]
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "ok"
    assert response.json()["checks"]["sweep"] == "down"


def test_healthz_is_503_when_the_sweep_has_not_run_lately(db, settings):
    now = timezone.now()
    stale = timedelta(seconds=settings.SWEEP_STALE_AFTER_SECONDS + 1)
    heartbeat_record(name="sweep", now=now - stale)
    response = Client().get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["checks"]["sweep"] == "down"
    heartbeat_record(name="sweep", now=now)
    assert Client().get(reverse("healthz")).status_code == 200


def test_healthz_is_503_when_the_sweep_has_never_run_and_says_why_to_an_administrator(client, db):
    response = Client().get(reverse("healthz"))
    assert response.status_code == 503
    assert "never run" not in response.content.decode()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert "never run" in client.get(reverse("healthz")).json()["details"]["sweep"]


PUBLISH_DELIVERY = """
import django
django.setup()
from tracking.tasks import deliver
try:
    deliver.delay()
    print("sent")
except Exception as error:
    print("refused", type(error).__name__)
"""


def test_a_publish_to_a_silent_broker_is_tried_once_not_retried_while_a_request_waits():
    """The outbox is in the database and beat runs delivery every few seconds, so the nudge a
    web request sends after a write gives up after one try."""
    with silent_server() as address:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "homevisits.settings",
            "CELERY_BROKER_URL": f"redis://{address}/0",
            "BROKER_SOCKET_TIMEOUT": "0.5",
        }
        result = subprocess.run(
            [sys.executable, "-c", PUBLISH_DELIVERY],
            cwd=PROJECT_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        connections_made = len(ACCEPTED[address])
    assert result.stdout.strip() == "refused OperationalError"
    assert connections_made == 1
