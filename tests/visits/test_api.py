"""The JSON API: auth by session or personal token, the same rules as the forms, JSON errors."""

from datetime import timedelta

import pytest

from homevisits import services as homevisits_services
from homevisits.models import ApiToken
from tests.factories import HouseholdFactory
from visits.models import Visit


@pytest.fixture
def token(worker_with_mobile):
    _, raw = homevisits_services.api_token_create(user=worker_with_mobile, name="phone")
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
