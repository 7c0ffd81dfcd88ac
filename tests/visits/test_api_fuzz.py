"""Schemathesis generates requests from the OpenAPI schema; none may get a 5xx."""

from datetime import timedelta

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from homevisits import services as homevisits_services
from homevisits.api import api
from visits import services

schema = schemathesis.openapi.from_dict(api.get_openapi_schema())
schema.app = get_wsgi_application()


@pytest.fixture
def keep_test_connection():
    """Schemathesis calls the WSGI app directly, which fires request_finished and would close
    the test's database connection mid-transaction; Django's own test client avoids the same."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def bearer(keep_test_connection, household, worker_with_mobile, now):
    """A worker with a bookable household and one booked visit, so ids can hit real rows."""
    services.visit_book(
        details=services.VisitDetails(
            household=household,
            lead_worker=worker_with_mobile,
            purpose="Fuzz target",
            starts_at=now + timedelta(hours=1),
            ends_at=now + timedelta(hours=2),
        ),
        booked_by=worker_with_mobile,
        now=now,
    )
    _, raw = homevisits_services.api_token_create(user=worker_with_mobile, name="fuzz")
    return raw


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_generated_request_gets_a_server_error(case, bearer):
    response = case.call(headers={"Authorization": f"Bearer {bearer}"})
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:500])
