"""A double tap on "Book visit" (a slow connection, a resend): one visit, and the second answer is
the first. Forms carry a one-time submission key; the API honours an Idempotency-Key header."""

from django.urls import reverse
from django.utils import timezone

from homevisits import services as homevisits_services
from homevisits.models import Role
from tests.factories import member
from visits.models import Visit

from .test_pages import form_data, tomorrow_at_ten


def test_booking_twice_with_one_submission_key_makes_one_visit_and_the_same_answer(
    client, household, worker_with_mobile, now
):
    client.force_login(worker_with_mobile)
    data = form_data(household, tomorrow_at_ten(now), submission_key="tap-1")
    first = client.post(reverse("visit-book"), data)
    second = client.post(reverse("visit-book"), data)
    visit = Visit.objects.get()
    assert first.status_code == second.status_code == 302
    assert second.url == first.url == reverse("visit-detail", args=[visit.pk])


def test_a_repeated_booking_says_it_was_already_done(client, household, worker_with_mobile, now):
    client.force_login(worker_with_mobile)
    data = form_data(household, tomorrow_at_ten(now), submission_key="tap-1")
    client.post(reverse("visit-book"), data)
    page = client.post(reverse("visit-book"), data, follow=True).content.decode()
    assert "already" in page.lower()
    assert Visit.objects.count() == 1


def test_each_booking_form_carries_a_fresh_submission_key(client, worker_with_mobile):
    client.force_login(worker_with_mobile)
    pages = [client.get(reverse("visit-book")).content.decode() for _ in range(2)]
    keys = [page.split('name="submission_key" value="')[1].split('"')[0] for page in pages]
    assert keys[0] != keys[1]
    assert all(len(key) >= 20 for key in keys)


def test_the_same_form_sent_again_with_changes_is_a_new_booking(
    client, household, worker_with_mobile, now
):
    """Back in the browser, a field changed and sent again: that is a new request, not a repeat."""
    client.force_login(worker_with_mobile)
    start = tomorrow_at_ten(now)
    client.post(reverse("visit-book"), form_data(household, start, submission_key="k"))
    client.post(
        reverse("visit-book"), form_data(household, start, submission_key="k", purpose="Other")
    )
    assert sorted(Visit.objects.values_list("purpose", flat=True)) == [
        "Family support session",
        "Other",
    ]


def test_an_unusable_form_key_is_ignored_and_the_booking_made(
    client, household, worker_with_mobile, now
):
    client.force_login(worker_with_mobile)
    data = form_data(household, tomorrow_at_ten(now), submission_key="x" * 101)
    assert client.post(reverse("visit-book"), data).status_code == 302
    assert Visit.objects.count() == 1


def test_another_persons_key_never_replays_their_answer(
    client, team, household, worker_with_mobile, now
):
    colleague = member(team, Role.WORKER).user
    client.force_login(worker_with_mobile)
    client.post(
        reverse("visit-book"), form_data(household, tomorrow_at_ten(now), submission_key="k")
    )
    client.force_login(colleague)
    answer = client.post(
        reverse("visit-book"), form_data(household, tomorrow_at_ten(now), submission_key="k")
    )
    assert Visit.objects.count() == 2
    assert answer.url == reverse("visit-detail", args=[Visit.objects.latest("pk").pk])


def book_by_api(client, token, household, now, key=None, **changes):
    start = tomorrow_at_ten(now)
    body = {
        "household_id": household.pk,
        "purpose": "Family support session",
        "starts_at": start.isoformat(),
        "ends_at": (start.replace(hour=11)).isoformat(),
        **changes,
    }
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post("/api/visits", body, content_type="application/json", headers=headers)


def test_booking_twice_by_api_with_one_idempotency_key_books_once(
    client, household, worker_with_mobile, now
):
    _, token = homevisits_services.api_token_create(
        user=worker_with_mobile, name="phone", now=timezone.now()
    )
    first = book_by_api(client, token, household, now, key="booking-1")
    second = book_by_api(client, token, household, now, key="booking-1")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert Visit.objects.count() == 1


def test_an_idempotency_key_reused_for_a_different_booking_is_refused(
    client, household, worker_with_mobile, now
):
    _, token = homevisits_services.api_token_create(
        user=worker_with_mobile, name="phone", now=timezone.now()
    )
    book_by_api(client, token, household, now, key="booking-1")
    other = book_by_api(client, token, household, now, key="booking-1", purpose="Other")
    assert other.status_code == 422
    assert "Idempotency-Key" in other.json()["detail"]
    assert Visit.objects.count() == 1


def test_an_empty_or_overlong_idempotency_key_is_refused_and_nothing_booked(
    client, household, worker_with_mobile, now
):
    _, token = homevisits_services.api_token_create(
        user=worker_with_mobile, name="phone", now=timezone.now()
    )
    for key in ["", "k" * 101]:
        answer = book_by_api(client, token, household, now, key=key)
        assert answer.status_code == 400
        assert "Idempotency-Key" in answer.json()["detail"]
    assert not Visit.objects.exists()


def test_a_refused_api_booking_is_answered_the_same_when_repeated(
    client, household, worker_with_mobile, now
):
    _, token = homevisits_services.api_token_create(
        user=worker_with_mobile, name="phone", now=timezone.now()
    )
    first = book_by_api(client, token, household, now, key="k", purpose="")
    second = book_by_api(client, token, household, now, key="k", purpose="")
    assert first.status_code == second.status_code
    assert first.json() == second.json()
