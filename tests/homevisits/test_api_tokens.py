"""Personal API tokens: they expire (API_TOKEN_DAYS, 90 by default, or sooner if chosen), are
stored only as a hash, may be limited to check-ins, stop when their owner is deactivated or has
left their teams, and need the second factor set up first where the role has one."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.apps import apps
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.test import Client, override_settings
from django.urls import reverse

from homevisits import services
from homevisits.api_auth import CHECK_INS_ONLY
from homevisits.middleware import TwoFactorRequiredMiddleware
from homevisits.models import ApiToken, ApiTokenScope, Membership
from tests.support import authenticator_app_for

MADE_AT = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
NINETY_DAYS_ON = datetime(2027, 2, 23, 9, 0, tzinfo=UTC)
REFUSED_FOR_GOOD = "Make a new one on your Calendars and API page."


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(MADE_AT, tick=False) as traveller:
        yield traveller


def make_token(user, **choices):
    return services.api_token_create(user=user, name="phone", now=MADE_AT, **choices)


def call(method, path, raw_token, json=None, **headers):
    return getattr(Client(), method)(
        path,
        data=json,
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw_token}", **headers},
    )


def everything_stored() -> str:
    """Every value in every table, sessions decoded, as one text to search."""
    values = []
    for model in apps.get_models():
        for row in model._base_manager.values_list():
            values += [bytes(v).decode(errors="replace") if _binary(v) else str(v) for v in row]
    values += [str(session.get_decoded()) for session in Session.objects.all()]
    return "\n".join(values)


def _binary(value) -> bool:
    return isinstance(value, bytes | memoryview)


def test_a_token_works_until_the_microsecond_it_expires(worker, clock):
    token, raw = make_token(worker)
    assert token.expires_at == MADE_AT + timedelta(days=settings.API_TOKEN_DAYS) == NINETY_DAYS_ON

    clock.move_to(token.expires_at - timedelta(microseconds=1))
    assert call("get", "/api/visits", raw).status_code == 200
    clock.move_to(token.expires_at)
    refused = call("get", "/api/visits", raw)
    assert refused.status_code == 401
    expired = "This API token expired on 23 February 2027 at 09:00 (UK time)."
    assert refused.json() == {"detail": f"{expired} {REFUSED_FOR_GOOD}"}


@override_settings(API_TOKEN_DAYS=30)
def test_the_maker_may_choose_a_shorter_life_but_not_a_longer_one(worker):
    assert make_token(worker, days=7)[0].expires_at == MADE_AT + timedelta(days=7)
    assert make_token(worker)[0].expires_at == MADE_AT + timedelta(days=30)
    for days in (0, 31):
        with pytest.raises(ValidationError, match="A token lasts from 1 to 30 days"):
            make_token(worker, days=days)


def test_a_worker_makes_a_check_ins_token_on_the_page_and_sees_when_it_expires(
    client, worker, django_assert_max_num_queries
):
    client.force_login(worker)
    made = client.post(
        reverse("token-create"),
        {"name": "Work phone", "scope": "check_ins", "days": "30", "submission_key": "k-1"},
    )
    assert made.url == reverse("connections")
    with django_assert_max_num_queries(12):
        page = client.get(reverse("connections"))
    text = page.content.decode()
    raw = page.context["new_secret"]["value"]
    assert "Your new API token (check-ins only)" in text
    assert "It works until <strong>25 Dec 2026, 09:00</strong>" in text
    assert "Work phone · check-ins only · made 25 Nov 2026 · works until 25 Dec 2026, 09:00" in text
    assert page["Cache-Control"].startswith("max-age=0")
    # Shown once: the next visit to the page no longer has it.
    assert raw not in client.get(reverse("connections")).content.decode()
    assert ApiToken.objects.get().scope == ApiTokenScope.CHECK_INS


def test_the_secret_is_never_stored_only_its_sha256(client, worker):
    client.force_login(worker)
    client.post(
        reverse("token-create"),
        {"name": "Work phone", "scope": "all", "days": "90", "submission_key": "k-2"},
    )
    raw = client.get(reverse("connections")).context["new_secret"]["value"]
    stored = ApiToken.objects.get()
    assert stored.token_hash == services.hash_token(raw) != raw
    assert raw not in everything_stored()
    assert call("get", "/api/visits", raw).status_code == 200


def test_a_refused_token_form_says_what_is_wrong_and_keeps_what_was_typed(client, worker):
    client.force_login(worker)
    page = client.post(
        reverse("token-create"), {"name": "Tablet in the car", "scope": "all", "days": "91"}
    )
    assert page.status_code == 200
    assert page.context["token_form"].errors["days"]
    assert 'value="Tablet in the car"' in page.content.decode()
    assert not ApiToken.objects.exists()


def test_a_check_ins_only_token_reaches_the_check_ins_and_nothing_else(worker):
    _, raw = make_token(worker, scope=ApiTokenScope.CHECK_INS)
    still_safe = call("post", "/api/tracking/still-safe", raw)
    assert still_safe.status_code == 400  # reached: no day out today, so nothing to record
    check_in = call("post", "/api/tracking/visits/999/check-ins", raw, {"kind": "arrived"})
    assert check_in.json()["detail"] == "No such visit in your teams."

    for method, path in [("get", "/api/visits"), ("get", "/api/visits/1"), ("post", "/api/visits")]:
        refused = call(method, path, raw, {})
        assert refused.status_code == 403
        assert refused.json() == {"detail": CHECK_INS_ONLY}


def test_a_check_ins_only_token_is_not_replayed_an_answer_to_another_endpoint(worker):
    _, full = make_token(worker)
    _, check_ins_only = make_token(worker, scope=ApiTokenScope.CHECK_INS)
    booking = {"household_id": 999, "purpose": "x", "starts_at": "2026-11-25T10:00:00Z"}
    first = call("post", "/api/visits", full, booking, **{"Idempotency-Key": "same"})
    assert first.status_code in (400, 422)
    again = call("post", "/api/visits", check_ins_only, booking, **{"Idempotency-Key": "same"})
    assert again.status_code == 403
    assert "Idempotent-Replayed" not in again


def test_a_revoked_token_is_refused_saying_so(worker):
    token, raw = make_token(worker)
    services.api_token_revoke(token=token, now=MADE_AT)
    refused = call("get", "/api/visits", raw)
    assert refused.status_code == 401
    assert refused.json() == {"detail": f"This API token was revoked. {REFUSED_FOR_GOOD}"}


@pytest.mark.parametrize("leaves", ["deactivated", "left_the_team"])
def test_a_token_stops_when_its_owner_is_deactivated_or_leaves(worker, leaves):
    _, raw = make_token(worker)
    if leaves == "deactivated":
        worker.is_active = False
        worker.save()
    else:
        Membership.objects.filter(user=worker).delete()
    refused = call("get", "/api/visits", raw)
    assert refused.status_code == 401
    assert (
        "its owner's account is deactivated or they have left their teams"
        in (refused.json()["detail"])
    )


def test_an_unknown_token_is_refused_as_json(db):
    refused = call("get", "/api/visits", "not-a-token")
    assert (refused.status_code, refused.json()) == (
        401,
        {"detail": "This API token is not recognised."},
    )


def test_a_manager_makes_a_token_only_once_their_second_factor_is_set_up(manager):
    with pytest.raises(ValidationError, match="Set up two-factor sign-in before"):
        make_token(manager)
    assert not ApiToken.objects.exists()
    authenticator_app_for(manager)
    assert make_token(manager)[0].user == manager


WITHOUT_TWO_FACTOR_REDIRECT = [
    name
    for name in settings.MIDDLEWARE
    if name != f"{TwoFactorRequiredMiddleware.__module__}.TwoFactorRequiredMiddleware"
]


@override_settings(MIDDLEWARE=WITHOUT_TWO_FACTOR_REDIRECT)
def test_the_token_page_sends_a_manager_without_a_second_factor_to_set_one_up(manager):
    """The sign-in middleware already keeps them off the page; the page does not rely on it."""
    browser = Client()
    browser.force_login(manager)
    page = browser.get(reverse("connections")).content.decode()
    assert "set up two-factor sign-in before you make one" in page
    assert reverse("two-factor-setup") in page
    assert reverse("token-create") not in page
    refused = browser.post(reverse("token-create"), {"name": "x", "scope": "all", "days": "5"})
    assert "set up two-factor sign-in before you make one" in refused.content.decode()
    assert not ApiToken.objects.exists()


def test_a_tokens_last_use_is_written_at_most_once_a_minute(worker, clock):
    token, raw = make_token(worker)
    services.api_token_authenticate(raw_token=raw, now=MADE_AT)
    services.api_token_authenticate(raw_token=raw, now=MADE_AT + timedelta(seconds=59))
    token.refresh_from_db()
    assert token.last_used_at == MADE_AT
    services.api_token_authenticate(raw_token=raw, now=MADE_AT + timedelta(minutes=1))
    token.refresh_from_db()
    assert token.last_used_at == MADE_AT + timedelta(minutes=1)
