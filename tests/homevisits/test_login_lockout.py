"""The failed-login lockout behind a reverse proxy: a stranger cannot lock a named worker out.

django-axes locks a username and an address together. Behind a proxy every request arrives from
the proxy's address, so the client's address must be read from X-Forwarded-For, at the position
the trusted proxy writes it (the right-hand end): what the client put there itself is ignored.
These tests go through the real login page, as a browser behind the proxy would.
"""

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse

from homevisits.models import Role
from tests.factories import member

PROXY = "10.0.0.2"
ALICE_AT_HOME = "198.51.100.7"
STRANGER = "203.0.113.9"


@pytest.fixture
def alice(team):
    return member(team, Role.WORKER, username="alice").user


def sign_in(password, *, remote_addr, forwarded_for=None):
    """A login POST as the app receives it; `forwarded_for` is X-Forwarded-For as it arrives."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return Client(REMOTE_ADDR=remote_addr).post(
        reverse("login"), {"username": "alice", "password": password}, headers=headers
    )


def through_the_proxy(password, *, client_address, client_sent=None):
    """The proxy appends the address it saw to whatever the client sent."""
    forwarded = f"{client_sent}, {client_address}" if client_sent else client_address
    return sign_in(password, remote_addr=PROXY, forwarded_for=forwarded)


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_a_stranger_spoofing_alices_address_through_the_proxy_does_not_lock_her_out(
    alice, password
):
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        through_the_proxy("guess", client_address=STRANGER, client_sent=ALICE_AT_HOME)

    signed_in = through_the_proxy(password, client_address=ALICE_AT_HOME)
    assert signed_in.status_code == 302
    assert signed_in.url == reverse("home")

    # The stranger's own address stays locked for alice, even with her password.
    refused = through_the_proxy(password, client_address=STRANGER, client_sent=ALICE_AT_HOME)
    assert refused.status_code == 429
    assert "Sign-in paused" in refused.content.decode()
    assert list(AccessAttempt.objects.values_list("username", "ip_address")) == [
        ("alice", STRANGER)
    ]


@override_settings(TRUSTED_PROXY_COUNT=2)
def test_with_two_proxies_the_address_the_first_proxy_saw_is_the_clients(alice, password):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in("guess", remote_addr=PROXY, forwarded_for=f"{ALICE_AT_HOME}, {STRANGER}, {PROXY}")
    assert AccessAttempt.objects.get().ip_address == STRANGER
    alice_via_both = sign_in(password, remote_addr=PROXY, forwarded_for=f"{ALICE_AT_HOME}, {PROXY}")
    assert alice_via_both.status_code == 302


@override_settings(TRUSTED_PROXY_COUNT=0)
def test_with_no_proxy_the_forwarded_header_is_ignored(alice, password):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in("guess", remote_addr=STRANGER, forwarded_for=ALICE_AT_HOME)
    assert AccessAttempt.objects.get().ip_address == STRANGER

    # A new header does not give the stranger a new address, and alice is not locked out.
    assert sign_in(password, remote_addr=STRANGER, forwarded_for="192.0.2.1").status_code == 429
    assert sign_in(password, remote_addr=ALICE_AT_HOME, forwarded_for=STRANGER).status_code == 302


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_a_request_that_bypassed_the_proxy_counts_against_its_own_address(alice):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in("guess", remote_addr=STRANGER)
    assert AccessAttempt.objects.get().ip_address == STRANGER
