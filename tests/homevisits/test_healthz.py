"""/healthz reports the database and the broker, and answers 503 when either is down."""

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from django.urls import reverse
from django.utils import timezone

from tracking.services import heartbeat_record

PROJECT_DIR = Path(__file__).resolve().parents[2]

# Fetch /healthz in a fresh process whose settings point at a dead service.
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
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_healthz_is_200_with_every_check_ok_when_everything_is_up(client, db):
    heartbeat_record(name="sweep", now=timezone.now())
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True
    assert body["checks"]["sweep"]["ok"] is True
    assert response["Cache-Control"].startswith("max-age=0")


def test_healthz_is_503_naming_the_database_when_it_is_down():
    result = healthz_in_subprocess(DATABASE_URL=f"postgres://nobody@{NOTHING_LISTENS}/nothing")
    assert result["status_code"] == 503
    assert result["body"]["status"] == "fail"
    assert result["body"]["checks"]["database"]["ok"] is False
    assert "OperationalError" in result["body"]["checks"]["database"]["detail"]


def test_healthz_is_503_naming_the_broker_when_it_is_down():
    result = healthz_in_subprocess(CELERY_BROKER_URL=f"redis://{NOTHING_LISTENS}/0")
    assert result["status_code"] == 503
    assert result["body"]["checks"]["broker"]["ok"] is False
    assert result["body"]["checks"]["database"]["ok"] is True


def test_healthz_is_503_when_the_sweep_has_not_run_lately(client, db, settings):
    now = timezone.now()
    stale = timedelta(seconds=settings.SWEEP_STALE_AFTER_SECONDS + 1)
    heartbeat_record(name="sweep", now=now - stale)
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["checks"]["sweep"]["ok"] is False
    heartbeat_record(name="sweep", now=now)
    assert client.get(reverse("healthz")).status_code == 200


def test_healthz_is_503_when_the_sweep_has_never_run(client, db):
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert "never run" in response.json()["checks"]["sweep"]["detail"]
