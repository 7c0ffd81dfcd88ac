"""The JSON API: auth by session or personal token, the same rules as the forms, JSON errors."""

from datetime import timedelta
from datetime import timezone as dt_timezone

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from homevisits import services as homevisits_services
from homevisits.models import ApiToken
from tests.factories import HouseholdFactory
from visits.models import Visit


@pytest.fixture
def token(worker_with_mobile):
    _, raw = homevisits_services.api_token_create(
        user=worker_with_mobile, name="phone", now=timezone.now()
    )
    return raw


@pytest.fixture
def api(client, token):
    """api(method, path, json=None) with the worker's bearer token."""

    def call(method, path, json=None, bearer=token):
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        return getattr(client, method)(
            f"/api/visits{path}", data=json, content_type="application/json", headers=headers
        )

    return call


def booking(household, now, **changes):
    body = {
        "household_id": household.pk,
        "purpose": "Family support",
        "starts_at": (now + timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(hours=2)).isoformat(),
    }
    body.update(changes)
    return body


def test_the_api_refuses_requests_without_credentials_as_json_401(api):
    response = api("get", "", bearer=None)
    assert response.status_code == 401
    assert response.json() == {"detail": "Unauthorized"}


def test_a_revoked_or_unknown_token_is_refused(api, token, now):
    assert api("get", "", bearer="nonsense").status_code == 401
    assert api("get", "").status_code == 200
    homevisits_services.api_token_revoke(token=ApiToken.objects.get(), now=now)
    assert api("get", "").status_code == 401


def test_api_tokens_are_stored_hashed(token):
    assert not ApiToken.objects.filter(token_hash=token).exists()
    assert ApiToken.objects.filter(token_hash=homevisits_services.hash_token(token)).exists()


def test_book_list_get_update_and_cancel_through_the_api(api, household, now):
    response = api("post", "", booking(household, now))
    assert response.status_code == 201, response.json()
    body = response.json()
    visit_id = body["visit"]["id"]
    assert body["visit"]["contact_number"] == "+447123456789"
    assert body["visit"]["high_risk"] is False

    listed = api("get", "").json()
    assert [v["id"] for v in listed] == [visit_id]
    assert api("get", f"/{visit_id}").json()["household_id"] == household.pk

    later = (now + timedelta(hours=4)).isoformat()
    new_end = (now + timedelta(hours=5)).isoformat()
    response = api("patch", f"/{visit_id}", {"starts_at": later, "ends_at": new_end})
    assert response.status_code == 200, response.json()
    assert Visit.objects.get().sequence == 1

    response = api("post", f"/{visit_id}/cancel", {"reason": "Family asked to move it"})
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"


def test_session_auth_works_for_the_browser(client, worker_with_mobile, household, now):
    client.force_login(worker_with_mobile)
    response = client.post("/api/visits", booking(household, now), content_type="application/json")
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("changes", "status", "field"),
    [
        ({"ends_at_offset": 0}, 400, "ends_at"),
        ({"ends_at_offset": 13 * 60}, 400, "ends_at"),
        ({"starts_at_offset": -16}, 400, "starts_at"),
        ({"contact_number": "12345"}, 400, "contact_number"),
        ({"purpose": "x" * 201}, 422, None),
        ({"starts_at": "2026-11-22T10:00:00"}, 422, None),  # no time zone
    ],
)
def test_bad_bookings_get_a_json_error_and_nothing_is_saved(
    api, household, now, changes, status, field
):
    body = booking(household, now)
    if "ends_at_offset" in changes:
        end = now + timedelta(hours=1, minutes=changes.pop("ends_at_offset"))
        body["ends_at"] = end.isoformat()
    if "starts_at_offset" in changes:
        body["starts_at"] = (now + timedelta(minutes=changes.pop("starts_at_offset"))).isoformat()
    body.update(changes)
    response = api("post", "", body)
    assert response.status_code == status, response.json()
    if field:
        assert field in response.json()["errors"]
    assert not Visit.objects.exists()


def test_another_teams_household_is_a_400_and_its_visit_a_404(api, other_team, now, foreign_visit):
    foreign = HouseholdFactory(team=other_team)
    response = api("post", "", booking(foreign, now))
    assert response.status_code == 400
    assert "household" in response.json()["errors"]
    assert api("get", f"/{foreign_visit.pk}").status_code == 404
    assert api("post", f"/{foreign_visit.pk}/cancel", {"reason": "x"}).status_code == 404


def test_list_refuses_a_range_over_62_days(api):
    response = api("get", "?start=2026-01-01&end=2026-06-01")
    assert response.status_code == 400
    assert "62 days" in response.json()["detail"]


def test_a_token_client_can_post_without_a_csrf_token(token, household, now):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post(
        "/api/visits",
        booking(household, now),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.json()


def test_a_session_post_without_the_csrf_token_is_refused(worker_with_mobile, household, now):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(worker_with_mobile)
    response = strict.post("/api/visits", booking(household, now), content_type="application/json")
    assert response.status_code == 403
    assert not Visit.objects.exists()


# Time-zone offsets: Python accepts up to ±23:59, PostgreSQL stores at most ±15:59, and real
# places use -12:00 to +14:00. An offset outside that range is the client's mistake: a 422.


def _at_offset(moment, hours, minutes=0):
    sign = -1 if hours < 0 else 1
    offset = timedelta(hours=hours) + sign * timedelta(minutes=minutes)
    return moment.astimezone(dt_timezone(offset)).isoformat()


OFFSET_MESSAGE = "must have a UTC offset between -12:00 and +14:00"


@pytest.mark.parametrize(("hours", "minutes"), [(18, 0), (-20, 0), (14, 1), (-12, 1)])
def test_a_booking_time_with_an_impossible_utc_offset_is_a_422_and_nothing_is_saved(
    api, household, now, hours, minutes
):
    body = booking(
        household,
        now,
        starts_at=_at_offset(now + timedelta(hours=1), hours, minutes),
        ends_at=_at_offset(now + timedelta(hours=2), hours, minutes),
    )
    response = api("post", "", body)
    assert response.status_code == 422, response.content
    messages = [error["msg"] for error in response.json()["detail"]]
    assert any(OFFSET_MESSAGE in message for message in messages), messages
    assert not Visit.objects.exists()


@pytest.mark.parametrize("field", ["starts_at", "ends_at", "return_by"])
def test_changing_a_visit_to_a_time_with_an_impossible_utc_offset_is_a_422(
    api, household, now, field
):
    visit_id = api("post", "", booking(household, now)).json()["visit"]["id"]
    moment = now + timedelta(hours=3)
    response = api("patch", f"/{visit_id}", {field: _at_offset(moment, 18)})
    assert response.status_code == 422, response.content
    assert OFFSET_MESSAGE in response.json()["detail"][0]["msg"]
    assert Visit.objects.get().sequence == 0


@pytest.mark.parametrize("hours", [14, -12])
def test_a_booking_time_at_the_furthest_real_utc_offsets_is_accepted(api, household, now, hours):
    starts_at = now + timedelta(hours=1)
    body = booking(
        household,
        now,
        starts_at=_at_offset(starts_at, hours),
        ends_at=_at_offset(now + timedelta(hours=2), hours),
    )
    response = api("post", "", body)
    assert response.status_code == 201, response.json()
    assert Visit.objects.get().starts_at == starts_at


@given(offset_minutes=st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1))
@hypothesis_settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_utc_offset_python_accepts_gives_a_server_error(api, household, now, offset_minutes):
    """On PostgreSQL (as in CI) this found the 500 that an offset beyond ±15:59 caused."""
    offset = dt_timezone(timedelta(minutes=offset_minutes))
    body = booking(
        household,
        now,
        starts_at=(now + timedelta(hours=1)).astimezone(offset).isoformat(),
        ends_at=(now + timedelta(hours=2)).astimezone(offset).isoformat(),
    )
    response = api("post", "", body)
    in_real_range = -12 * 60 <= offset_minutes <= 14 * 60
    assert response.status_code == (201 if in_real_range else 422), response.content
    Visit.objects.all().delete()
