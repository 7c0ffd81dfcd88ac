"""Two-factor sign-in: managers, designated persons and site staff confirm each sign-in with a
code from an authenticator app (or a backup code). Workers and volunteers sign in with a password.

These tests use a plain Client and the real login form; the suite's `client` fixture signs in
completely, second factor included."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from homevisits import services
from homevisits.models import Role
from tests.factories import member
from tests.support import app_code

MORNING = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(MORNING, tick=False) as traveller:
        yield traveller


def signed_in_with_password(user, password) -> Client:
    browser = Client()
    response = browser.post(reverse("login"), {"username": user.username, "password": password})
    assert response.status_code == 302
    return browser


@pytest.fixture
def enrolled_manager(manager, clock):
    """A manager who set up their app a minute ago; returns (manager, device, backup codes).
    (An app code is accepted once, so the tests' codes come from a later 30-second step.)"""
    device = services.two_factor_enrolment_start(user=manager)
    device, backup_codes = services.two_factor_enrolment_confirm(
        user=manager, code=app_code(device)
    )
    clock.shift(timedelta(minutes=1))
    return manager, device, backup_codes


@pytest.mark.parametrize("role", [Role.WORKER, Role.VOLUNTEER, Role.ADMIN])
def test_a_role_without_access_to_whereabouts_signs_in_with_a_password_alone(team, password, role):
    user = member(team, role).user
    browser = signed_in_with_password(user, password)
    assert browser.get(reverse("home"), follow=True).status_code == 200  # home, or their day


@pytest.mark.parametrize("role", [Role.DESIGNATED_PERSON, Role.MANAGER])
def test_the_board_is_out_of_reach_until_the_second_factor(team, password, role):
    user = member(team, role).user
    browser = signed_in_with_password(user, password)
    response = browser.get(reverse("tracking-board"))
    assert response.status_code == 302
    assert response.url == f"{reverse('two-factor-verify')}?next=%2Ftracking%2Fboard%2F"
    # Nobody has set up an app yet, so the code page sends them to set one up.
    assert browser.get(response.url).url.startswith(reverse("two-factor-setup"))


def test_a_manager_sets_up_the_app_and_gets_backup_codes_once(manager, password, clock):
    browser = signed_in_with_password(manager, password)
    page = browser.get(reverse("two-factor-setup") + "?next=/tracking/board/")
    assert "<svg" in page.content.decode()  # the QR code, drawn on the server
    device = TOTPDevice.objects.get(user=manager, confirmed=False)

    wrong = browser.post(reverse("two-factor-setup"), {"code": "000000"})
    assert "That code did not match" in wrong.content.decode()
    assert not TOTPDevice.objects.filter(user=manager, confirmed=True).exists()

    done = browser.post(
        reverse("two-factor-setup"),
        {"code": app_code(device), "next": "/tracking/board/"},
    )
    codes = done.context["backup_codes"]
    assert len(codes) == len(set(codes)) == 10
    assert StaticToken.objects.filter(device__user=manager).count() == 10
    assert "Save these backup codes now" in done.content.decode()
    assert browser.get(reverse("tracking-board")).status_code == 200


def test_the_code_page_takes_the_app_code_and_returns_to_the_page_asked_for(
    enrolled_manager, password, clock
):
    manager, device, _ = enrolled_manager
    browser = signed_in_with_password(manager, password)
    wrong = browser.post(reverse("two-factor-verify"), {"code": "123 456", "next": "/"})
    assert "That code did not match" in wrong.content.decode()
    assert browser.get(reverse("home")).status_code == 302

    code = app_code(device)
    spaced = f"{code[:3]} {code[3:]}"  # as the app shows it
    response = browser.post(
        reverse("two-factor-verify"), {"code": spaced, "next": "/tracking/board/"}
    )
    assert response.url == "/tracking/board/"
    assert browser.get(reverse("tracking-board")).status_code == 200


def test_a_backup_code_signs_in_once(enrolled_manager, password):
    manager, _, backup_codes = enrolled_manager
    first = signed_in_with_password(manager, password)
    response = first.post(reverse("two-factor-verify"), {"code": backup_codes[0].upper()})
    assert response.url == reverse("home")
    second = signed_in_with_password(manager, password)
    again = second.post(reverse("two-factor-verify"), {"code": backup_codes[0]})
    assert "That code did not match" in again.content.decode()


def test_a_password_alone_cannot_enrol_a_new_phone(enrolled_manager, password):
    manager, device, _ = enrolled_manager
    browser = signed_in_with_password(manager, password)
    response = browser.get(reverse("two-factor-setup"))
    assert response.url.startswith(reverse("two-factor-verify"))
    assert TOTPDevice.objects.filter(user=manager).count() == 1
    with pytest.raises(Exception, match="already set up"):
        services.two_factor_enrolment_start(user=manager)


def test_the_code_page_never_sends_anyone_to_another_site(enrolled_manager, password):
    manager, device, _ = enrolled_manager
    browser = signed_in_with_password(manager, password)
    response = browser.post(
        reverse("two-factor-verify"),
        {"code": app_code(device), "next": "https://evil.example/"},
    )
    assert response.url == reverse("home")


def test_before_the_code_the_api_refuses_and_htmx_is_sent_to_the_code_page(
    designated_person, password
):
    browser = signed_in_with_password(designated_person, password)
    api = browser.get("/api/visits")
    assert api.status_code == 403
    assert api.json() == {"detail": "Finish signing in with your two-factor code first."}
    rows = browser.get(reverse("tracking-board-rows"), headers={"HX-Request": "true"})
    assert rows.status_code == 204
    assert rows["HX-Redirect"].startswith(reverse("two-factor-verify"))


def test_signing_out_works_before_the_code(manager, password):
    browser = signed_in_with_password(manager, password)
    browser.post(reverse("logout"))
    assert browser.get(reverse("home")).url.startswith(reverse("login"))


def test_a_manager_makes_new_backup_codes_and_the_old_ones_stop_working(
    enrolled_manager, password, clock
):
    manager, device, old_codes = enrolled_manager
    browser = signed_in_with_password(manager, password)
    browser.post(reverse("two-factor-verify"), {"code": old_codes[0]})
    page = browser.get(reverse("two-factor-manage")).content.decode()
    assert "<strong>9</strong> unused backup codes" in page
    renewed = browser.post(reverse("two-factor-manage"))
    new_codes = renewed.context["backup_codes"]
    assert "Your old codes no longer work" in renewed.content.decode()

    later = signed_in_with_password(manager, password)
    refused = later.post(reverse("two-factor-verify"), {"code": old_codes[1]})
    assert "That code did not match" in refused.content.decode()
    accepted = later.post(reverse("two-factor-verify"), {"code": new_codes[0]})
    assert accepted.url == reverse("home")


def test_only_people_signed_in_with_an_app_see_the_two_factor_page(client, worker, manager):
    client.force_login(worker)
    assert "Two-factor sign-in" not in client.get(reverse("home")).content.decode()
    assert client.get(reverse("two-factor-manage")).status_code == 404
    client.force_login(manager)
    assert "Two-factor sign-in" in client.get(reverse("home")).content.decode()
    assert client.get(reverse("two-factor-manage")).status_code == 200
