"""Schemathesis generates requests from the OpenAPI schema; none may get a 5xx.

Random ids almost never name a real row, so half of the generated requests are pointed at the
worker's own household and visit: only then do generated times and texts reach the database's
own checks (PostgreSQL in CI, which refuses what SQLite stores). Generated times stay near the
years the API accepts, with any UTC offset that the standard allows.
"""

from datetime import UTC, datetime, timedelta, timezone

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone as django_timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from homevisits import services as homevisits_services
from homevisits.api import api
from visits import services

schema = schemathesis.openapi.from_dict(api.get_openapi_schema())
schema.app = get_wsgi_application()

# Filled in by the `bearer` fixture, which runs before any request is generated.
REAL_IDS = {}

MAX_OFFSET_MINUTES = 24 * 60 - 1
schemathesis.openapi.format(
    "date-time",
    st.builds(
        lambda moment, minutes: moment.astimezone(timezone(timedelta(minutes=minutes))).isoformat(),
        st.datetimes(min_value=datetime(1999, 12, 1), max_value=datetime(2101, 1, 31)).map(
            lambda naive: naive.replace(tzinfo=UTC)
        ),
        st.integers(min_value=-MAX_OFFSET_MINUTES, max_value=MAX_OFFSET_MINUTES),
    ),
)


def flatmap_path_parameters(context, path_parameters):
    if not path_parameters or "visit_id" not in path_parameters or not REAL_IDS:
        return st.just(path_parameters)
    real = {**path_parameters, "visit_id": REAL_IDS["visit_id"]}
    return st.sampled_from([path_parameters, real])


def flatmap_body(context, body):
    if not isinstance(body, dict) or "household_id" not in body or not REAL_IDS:
        return st.just(body)
    return st.sampled_from([body, {**body, "household_id": REAL_IDS["household_id"]}])


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
    visit = services.visit_book(
        details=services.VisitDetails(
            household=household,
            lead_worker=worker_with_mobile,
            purpose="Fuzz target",
            starts_at=now + timedelta(hours=1),
            ends_at=now + timedelta(hours=2),
        ),
        booked_by=worker_with_mobile,
        now=now,
    ).visit
    REAL_IDS.update(household_id=household.pk, visit_id=visit.pk)
    _, raw = homevisits_services.api_token_create(
        user=worker_with_mobile, name="fuzz", now=django_timezone.now()
    )
    yield raw
    REAL_IDS.clear()


@pytest.mark.django_db
@schema.hooks.apply(flatmap_body)
@schema.hooks.apply(flatmap_path_parameters)
@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_generated_request_gets_a_server_error(case, bearer):
    response = case.call(headers={"Authorization": f"Bearer {bearer}"})
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:500])
