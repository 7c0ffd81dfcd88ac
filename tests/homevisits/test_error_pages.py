"""When something fails: the API answers JSON whatever went wrong, a database that stops
answering is a 503, and the error page tells a worker to phone 999 or their team's line."""

import json

import pytest
from django.db import OperationalError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from homevisits import errors
from homevisits.models import Role
from tests.factories import member
from visits.models import Visit

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL's locks and statement limits"
)


@pytest.fixture
def production(settings):
    """As deployed: no debug pages, so Django's error handlers answer. (The test runner turns
    DEBUG off already; said here because these tests depend on it.)"""
    settings.DEBUG = False


@pytest.fixture
def signed_in(client, worker):
    client.force_login(worker)
    client.raise_request_exception = False  # answer as a server would, not raise in the test
    return client


@pytest.fixture
def with_emergency_line(team):
    team.policy.emergency_phone = "+441134960000"
    team.policy.save()
    return team


@pytest.fixture
def database_stops_answering(db):
    """Another connection holds the visits table (as a stuck migration would), and this
    connection's statements give up after 200 ms: a query of visits fails as if the database
    had stopped answering."""
    locker = connection.get_new_connection(connection.get_connection_params())
    locker.execute("SET lock_timeout = '5s'")
    locker.execute(f"LOCK TABLE {Visit._meta.db_table} IN ACCESS EXCLUSIVE MODE")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = '200ms'")  # ends with the test
    yield
    locker.rollback()
    locker.close()


def assert_json(response, status) -> dict:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert body["detail"]
    return body


@pytest.mark.parametrize("debug", [True, False], ids=["debug", "production"])
def test_an_api_path_that_does_not_exist_is_a_json_404(settings, db, debug):
    settings.DEBUG = debug
    assert_json(Client().get("/api/no-such-thing"), 404)


def test_api_errors_are_json_whatever_answers_them(signed_in):
    assert_json(Client().get("/api/visits"), 401)  # no credentials
    assert_json(signed_in.get("/api/visits/2000000000"), 404)
    assert_json(
        signed_in.post("/api/visits", {"purpose": ""}, content_type="application/json"), 422
    )
    not_allowed = signed_in.delete("/api/visits")
    assert_json(not_allowed, 405)
    assert "GET" in not_allowed["Allow"]


@pytest.mark.parametrize("debug", [True, False], ids=["debug", "production"])
def test_an_unexpected_error_in_the_api_is_a_json_500_and_is_logged(
    signed_in, monkeypatch, caplog, settings, debug
):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    settings.DEBUG = debug
    monkeypatch.setattr("visits.selectors.my_visits", broken)
    response = signed_in.get("/api/visits")
    assert_json(response, 500)
    assert response.json() == {"detail": errors.API_SERVER_ERROR}
    assert "a bug" not in response.content.decode()
    assert "Internal Server Error: /api/visits" in caplog.text


@on_postgresql
def test_the_api_answers_a_json_503_when_the_database_stops_answering(
    signed_in, database_stops_answering
):
    response = signed_in.get("/api/visits")
    assert_json(response, 503)
    assert response.json() == {"detail": errors.API_DATABASE_DOWN}


@pytest.mark.parametrize(
    ("failure", "status", "detail"),
    [
        (OperationalError("connection timeout expired"), 503, errors.API_DATABASE_DOWN),
        (RuntimeError("a bug"), 500, errors.API_SERVER_ERROR),
    ],
    ids=["database", "bug"],
)
def test_a_failure_before_the_api_is_reached_is_answered_in_json_too(rf, failure, status, detail):
    """Django calls handler500 while it handles the exception, as here: a signed-in request's
    session is read before the API sees it, so a dead database often fails there first."""
    try:
        raise failure
    except type(failure):
        response = errors.server_error(rf.get("/api/visits"))
    assert assert_json(response, status)["detail"] == detail


def test_healthz_is_a_503_when_a_signed_in_callers_session_cannot_be_read(rf):
    try:
        raise OperationalError("connection timeout expired")
    except OperationalError:
        response = errors.server_error(rf.get(reverse("healthz")))
    assert response.status_code == 503
    assert json.loads(response.content) == {"status": "down", "checks": {"database": "down"}}


def test_the_error_page_gives_999_and_the_teams_emergency_line(
    production, signed_in, with_emergency_line, monkeypatch
):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("homevisits.selectors.capabilities_for", broken)
    response = signed_in.get(reverse("home"))
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong" in page
    assert 'href="tel:999"' in page
    assert f'href="tel:+441134960000">{with_emergency_line.name}: 0113 496 0000</a>' in page
    assert 'content="width=device-width, initial-scale=1"' in page  # laid out for a phone


def test_the_error_page_without_a_team_line_says_to_phone_the_office(
    production, signed_in, monkeypatch
):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("homevisits.selectors.capabilities_for", broken)
    page = signed_in.get(reverse("home")).content.decode()
    assert 'phone <a class="alert-link" href="tel:999">999</a>' in page
    assert "phone your office" in page
    assert page.count("tel:") == 1  # 999 only


@on_postgresql
def test_the_error_page_is_a_503_drawn_without_the_database_when_it_stops_answering(
    production, signed_in, with_emergency_line, database_stops_answering
):
    with CaptureQueriesContext(connection) as queries:
        response = signed_in.get(reverse("my-day"))
    assert response.status_code == 503
    page = response.content.decode()
    assert "not available just now" in page
    assert 'href="tel:999"' in page
    assert "phone your office" in page  # the team's line would need the database
    # The failed query was the last one: the error page did not ask the database again.
    assert Visit._meta.db_table in queries.captured_queries[-1]["sql"]


def test_a_team_manager_still_gets_the_error_page_not_the_api_json(
    production, client, team, monkeypatch
):
    """Guards the path test: only /api/ answers JSON."""

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("homevisits.selectors.capabilities_for", broken)
    client.force_login(member(team, Role.MANAGER).user)
    client.raise_request_exception = False
    response = client.get(reverse("home"))
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
