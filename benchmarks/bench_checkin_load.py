"""The check-in API under load: gunicorn (2 sync workers) on 127.0.0.1 and 50 phones checking in
at once for 20 s, each with its own token: arrived, two extensions, left safely, visit after
visit. Prints requests per second, p50 and p99, and the SQL statements of one check-in as the
tests count them (BEGIN and COMMIT included).

The team asks for a phone-in every two hours and every visit is monitored, so each check-in
also keeps the worker's phone-in deadline: the heaviest ordinary check-in."""

import http.client
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from homevisits import services as homevisits_services
from homevisits.models import Role, TeamPolicy
from tests.factories import TeamFactory, assessed_household, member
from tests.support import current_database_url
from visits.models import Visit

CLIENTS = 50
GUNICORN_WORKERS = 2
SECONDS = 20.0
VISITS_PER_PHONE = 60  # more than 20 s can use up
KINDS = [("arrived", None), ("extended", 5), ("extended", 5), ("left_safely", None)]


def run():
    """Yields each figure as soon as it is measured."""
    if connection.vendor != "postgresql":
        yield "skipped: these figures are for PostgreSQL (set DATABASE_URL)"
        return
    phones = _phones()
    yield f"database: PostgreSQL {connection.pg_version // 10000}"
    yield from _statements_of_one_check_in(phones[0])
    port = _free_port()
    server = _gunicorn(port)
    try:
        _wait_until_up(port, server)
        done = _load(port, phones)
    finally:
        server.terminate()
        server.wait(timeout=30)
    latencies = sorted(ms for ms, status in done if status == 201)
    failed = [status for _, status in done if status != 201]
    p99 = latencies[max(0, round(0.99 * len(latencies)) - 1)]
    yield (
        f"check-in API, gunicorn {GUNICORN_WORKERS} workers, {CLIENTS} clients for "
        f"{SECONDS:.0f} s: {len(latencies):,} check-ins = {len(latencies) / SECONDS:,.0f} req/s, "
        f"p50={statistics.median(latencies):.0f} ms p99={p99:.0f} ms, "
        f"{len(failed)} refused or failed (goal ≥ 300 req/s, p99 < 150 ms)"
    )


def _phones() -> list[dict]:
    """50 workers, each with a token and their visits under way, in one team."""
    team = TeamFactory()
    TeamPolicy.objects.filter(team=team).update(phone_in_interval=timedelta(hours=2))
    manager = member(team, Role.MANAGER).user
    author = member(team, Role.DESIGNATED_PERSON).user
    now = timezone.now()
    household = assessed_household(
        team, author=author, manager=manager, significant_risk=True, now=now - timedelta(days=1)
    )
    phones = []
    for index in range(CLIENTS):
        worker = member(team, Role.WORKER, first_name=f"Phone{index}").user
        _, token = homevisits_services.api_token_create(
            user=worker, name="phone", now=now - timedelta(hours=1)
        )
        visits = Visit.objects.bulk_create(
            Visit(
                team=team,
                household=household,
                lead_worker=worker,
                booked_by=worker,
                purpose="Load",
                after_plan="going_home",
                starts_at=now - timedelta(minutes=30),
                ends_at=now + timedelta(hours=2),
                due_at=now + timedelta(hours=2),
                alert_after=now + timedelta(hours=2),
            )
            for _ in range(VISITS_PER_PHONE)
        )
        phones.append({"token": token, "visits": [visit.pk for visit in visits]})
    _store_days_out(team, now)
    return phones


def _store_days_out(team, now) -> None:
    """Visits written in bulk skip the services that keep stored phone-in deadlines, where the
    code has them: work them out once, as booking would have."""
    from tracking import services as tracking_services

    refresh = getattr(tracking_services, "phone_in_days_refresh", None)
    if refresh is not None:
        workers = Visit.objects.filter(team=team).values_list("lead_worker_id", flat=True)
        refresh(worker_ids=set(workers), days=[timezone.localdate(now)])


def _statements_of_one_check_in(phone: dict) -> list[str]:
    visit = phone["visits"].pop()
    client = Client(HTTP_HOST="localhost")
    headers = {"Authorization": f"Bearer {phone['token']}"}
    counted = []
    for kind, minutes in KINDS:
        connection.queries_log.clear()
        with CaptureQueriesContext(connection) as queries:
            response = client.post(
                f"/api/tracking/visits/{visit}/check-ins",
                {"kind": kind, "extend_minutes": minutes},
                content_type="application/json",
                headers=headers,
            )
        assert response.status_code == 201, response.content
        counted.append(f"{kind} {len(queries)}")
    return [
        "statements of one API check-in (the first noting the token's use; goal ≤ 7): "
        + ", ".join(counted)
    ]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _gunicorn(port: int):
    """The app as production runs it (DEBUG off, its gunicorn.conf.py), on this database."""
    env = {
        **os.environ,
        "DATABASE_URL": current_database_url(),
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SITE_URL": f"http://127.0.0.1:{port}",
        "SECURE_SSL_REDIRECT": "false",  # behind no TLS proxy here
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "homevisits.wsgi:application",
            "--config",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(GUNICORN_WORKERS),
        ],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_until_up(port: int, server) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("gunicorn stopped while starting")
        try:
            _request(port, "GET", "/healthz", None, {})
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start within 60 s")


def _request(port: int, method: str, path: str, body, headers) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _load(port: int, phones: list[dict]) -> list[tuple[float, int]]:
    """Every phone checks in as fast as answers come, for SECONDS: (ms, status) of each."""
    done, lock = [], threading.Lock()
    start = threading.Barrier(len(phones) + 1)
    stop_at = []

    def phone_loop(phone):
        headers = {
            "Authorization": f"Bearer {phone['token']}",
            "Content-Type": "application/json",
        }
        mine = []
        start.wait()
        for visit in phone["visits"]:
            for kind, minutes in KINDS:
                if time.monotonic() >= stop_at[0]:
                    break
                body = json.dumps({"kind": kind, "extend_minutes": minutes})
                began = time.perf_counter()
                status = _request(
                    port, "POST", f"/api/tracking/visits/{visit}/check-ins", body, headers
                )
                mine.append(((time.perf_counter() - began) * 1000, status))
            else:
                continue
            break
        with lock:
            done.extend(mine)

    threads = [threading.Thread(target=phone_loop, args=(phone,)) for phone in phones]
    for thread in threads:
        thread.start()
    stop_at.append(time.monotonic() + SECONDS)
    start.wait()
    for thread in threads:
        thread.join()
    return done
