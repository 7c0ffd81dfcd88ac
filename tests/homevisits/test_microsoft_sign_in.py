"""Sign in with Microsoft: staff sign in with their council work account (OpenID Connect with
Microsoft Entra ID). It signs in to an existing staff account or not at all, and Microsoft's
multi-factor authentication counts as the second factor that managers need.

The identity provider is a local fake (fake_oidc.py) spoken to over real HTTP: the browser's
trip to Microsoft's sign-in page is a request to it, and the app swaps the code for an ID token
and fetches the signing keys from it, as it would from Microsoft."""

import time

import pytest
import requests
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from homevisits.models import MicrosoftAccount, Role
from tests.factories import UserFactory, member

from .fake_oidc import FakeEntra, new_rsa_key

TENANT = "0b5c3d1e-2f40-4a6b-8c7d-9e0f1a2b3c4d"
CLIENT_ID = "6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
CLIENT_SECRET = "fake-client-secret"
NOT_LINKED = "Your Microsoft account is not linked to a homevisits account; ask your team admin."
NOT_CHECKED = "Microsoft&#x27;s answer could not be checked, so you are not signed in."


@pytest.fixture(scope="module")
def entra():
    fake = FakeEntra(
        tenant_id=TENANT,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri="http://testserver/oidc/callback/",
    ).start()
    yield fake
    fake.stop()


@pytest.fixture
def microsoft(entra, settings):
    """The site set up for Sign in with Microsoft, against the fake."""
    entra.reset()
    settings.OIDC_ENABLED = True
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.ENTRA_TENANT_ID = TENANT
    settings.OIDC_LOGIN_BASE_URL = entra.base_url
    return entra


def work_account(user, **claims) -> dict:
    """The ID token claims of this person's Microsoft account: its user principal name is their
    email address (in Microsoft's capitals, to show that case does not matter)."""
    return {
        "oid": f"00000000-0000-0000-0000-{user.pk:012d}",
        "preferred_username": user.email.upper(),
        "name": user.get_full_name(),
        "amr": ["pwd"],
        **claims,
    }


def through_microsoft(browser: Client, entra: FakeEntra, *, next_page: str = "/"):
    """Click "Sign in with Microsoft", sign in at the (fake) Microsoft page and come back:
    returns the app's answer to Microsoft's redirect."""
    start = browser.get(reverse("oidc_authentication_init"), {"next": next_page})
    assert start.status_code == 302
    assert start.url.startswith(f"{entra.authorize_url}?")
    at_microsoft = requests.get(start.url, allow_redirects=False, timeout=5)
    assert at_microsoft.status_code == 302, at_microsoft.text
    return browser.get(at_microsoft.headers["Location"])


def is_signed_in(browser: Client) -> bool:
    landed = browser.get(reverse("home"), follow=True)  # a worker's home is their day
    return landed.status_code == 200 and landed.wsgi_request.user.is_authenticated


def test_a_manager_whose_microsoft_sign_in_used_mfa_lands_without_the_code_step(
    microsoft, manager, django_assert_max_num_queries
):
    microsoft.sign_in_as(**work_account(manager, amr=["pwd", "mfa"]))
    browser = Client()
    with django_assert_max_num_queries(25):  # sessions and axes' login record, mostly
        landed = through_microsoft(browser, microsoft, next_page="/tracking/board/")

    assert landed.status_code == 302 and landed.url == "/tracking/board/"
    assert browser.get("/tracking/board/").status_code == 200  # no app code asked for
    two_factor = browser.get(reverse("two-factor-manage")).content.decode()
    assert "Microsoft confirmed this sign-in with its own multi-factor authentication" in two_factor
    account = MicrosoftAccount.objects.get(user=manager)
    assert account.object_id == work_account(manager)["oid"]
    (token_request,) = microsoft.token_requests
    assert token_request["grant_type"] == "authorization_code"
    assert token_request["redirect_uri"] == "http://testserver/oidc/callback/"


def test_a_manager_without_mfa_at_microsoft_is_sent_to_the_code_step(microsoft, manager):
    microsoft.sign_in_as(**work_account(manager, amr=["pwd"]))
    browser = Client()
    through_microsoft(browser, microsoft)

    board = browser.get(reverse("tracking-board"))
    assert board.status_code == 302
    assert board.url.startswith(reverse("two-factor-verify"))


def test_a_worker_needs_no_second_factor_after_microsoft(microsoft, worker):
    worker.set_unusable_password()  # made for Microsoft sign-in only
    worker.save()
    microsoft.sign_in_as(**work_account(worker, amr=["pwd"]))
    browser = Client()
    assert through_microsoft(browser, microsoft).url == reverse("home")
    home = browser.get(reverse("home"), follow=True)  # a worker's home is their day
    assert home.status_code == 200
    assert "Change password" not in home.content.decode()  # they have none to change


def test_a_tenant_that_requires_mfa_for_the_app_counts_every_microsoft_sign_in(
    microsoft, manager, settings
):
    settings.ENTRA_REQUIRES_MFA = True  # Microsoft's v2.0 ID tokens carry no `amr`
    microsoft.sign_in_as(**work_account(manager, amr=None))
    browser = Client()
    through_microsoft(browser, microsoft)
    assert browser.get(reverse("tracking-board")).status_code == 200


def test_an_unknown_microsoft_account_is_refused_and_no_account_is_made(microsoft, team, caplog):
    microsoft.sign_in_as(oid="11111111-2222-3333-4444-555555555555", preferred_username="new@x.gov")
    people = get_user_model().objects.count()
    browser = Client()

    refused = through_microsoft(browser, microsoft)

    assert refused.status_code == 403
    assert NOT_LINKED in refused.content.decode()
    assert get_user_model().objects.count() == people
    assert not MicrosoftAccount.objects.exists()
    assert not is_signed_in(browser)
    assert "Sign in with Microsoft refused (no staff account with this email): new@x.gov" in (
        caplog.text
    )


def test_a_deactivated_person_is_refused(microsoft, worker):
    worker.is_active = False
    worker.save()
    microsoft.sign_in_as(**work_account(worker))
    browser = Client()

    refused = through_microsoft(browser, microsoft)

    assert refused.status_code == 403
    assert "Your homevisits account has been deactivated" in refused.content.decode()
    assert not is_signed_in(browser)
    assert not MicrosoftAccount.objects.exists()


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda entra: {"sign_with": new_rsa_key()}, id="signed-with-another-key"),
        pytest.param(lambda entra: {"aud": "another-app"}, id="for-another-app"),
        pytest.param(lambda entra: {"nonce": "from-another-sign-in"}, id="another-nonce"),
        pytest.param(
            lambda entra: {"exp": int(time.time()) - 300, "iat": int(time.time()) - 3900},
            id="expired",
        ),
        pytest.param(
            lambda entra: {"iss": entra.issuer.replace(TENANT, "another-tenant")},
            id="from-another-tenant",
        ),
    ],
)
def test_an_id_token_that_fails_its_checks_signs_nobody_in(microsoft, worker, spoil):
    microsoft.sign_in_as(**work_account(worker))
    microsoft.spoil_next_token(**spoil(microsoft))
    browser = Client()

    refused = through_microsoft(browser, microsoft)

    assert refused.status_code == 403
    assert NOT_CHECKED in refused.content.decode()
    assert not is_signed_in(browser)


@pytest.mark.parametrize(
    "claims",
    [
        # Entra ID's `email` claim is optional and may hold an address nobody verified.
        pytest.param(
            {"preferred_username": "someone@another.example"}, id="email-claim-alone-matches"
        ),
        # A guest from another organisation, even one whose name is a staff email address.
        pytest.param({"idp": "https://sts.windows.net/another-tenant/"}, id="guest-account"),
    ],
)
def test_only_the_councils_own_account_with_the_staff_email_as_its_name_signs_in(
    microsoft, worker, claims
):
    microsoft.sign_in_as(**work_account(worker, email=worker.email, **claims))
    browser = Client()
    assert through_microsoft(browser, microsoft).status_code == 403
    assert not is_signed_in(browser)
    assert not MicrosoftAccount.objects.exists()


def test_once_linked_the_account_follows_its_microsoft_object_id(microsoft, worker):
    microsoft.sign_in_as(**work_account(worker))
    through_microsoft(Client(), microsoft)

    # Renamed at Microsoft: still the same person.
    microsoft.sign_in_as(**work_account(worker, preferred_username="renamed@x.gov"))
    renamed = Client()
    through_microsoft(renamed, microsoft)
    assert renamed.get(reverse("home"), follow=True).context["user"] == worker

    # Another Microsoft account later given the same name does not take the account over.
    microsoft.sign_in_as(**work_account(worker, oid="99999999-9999-9999-9999-999999999999"))
    other = Client()
    refused = through_microsoft(other, microsoft)
    assert refused.status_code == 403
    assert "linked to a different Microsoft account" in refused.content.decode()
    assert not is_signed_in(other)


def test_a_sign_in_from_microsoft_works_once_and_a_cancelled_one_signs_nobody_in(microsoft, worker):
    microsoft.sign_in_as(**work_account(worker))
    browser = Client()
    start = browser.get(reverse("oidc_authentication_init"))
    back_from_microsoft = requests.get(start.url, allow_redirects=False, timeout=5)
    callback = back_from_microsoft.headers["Location"]
    assert browser.get(callback).status_code == 302

    replayed = Client().get(callback)
    assert replayed.status_code == 400
    assert "expired or was already used" in replayed.content.decode()

    cancelling = Client()
    state = cancelling.get(reverse("oidc_authentication_init")).url.split("state=")[1][:32]
    cancelled = cancelling.get(
        reverse("oidc_authentication_callback"), {"error": "access_denied", "state": state}
    )
    assert cancelled.status_code == 400
    assert "Microsoft did not sign you in" in cancelled.content.decode()
    assert not is_signed_in(cancelling)


def test_the_sign_in_page_offers_microsoft_only_where_it_is_set_up(db, settings, entra):
    browser = Client()
    page = browser.get(reverse("login")).content.decode()
    assert "Sign in with Microsoft" not in page
    assert browser.get(reverse("oidc_authentication_init")).status_code == 404

    settings.OIDC_ENABLED, settings.OIDC_LOGIN_BASE_URL = True, entra.base_url
    settings.OIDC_RP_CLIENT_ID, settings.ENTRA_TENANT_ID = CLIENT_ID, TENANT
    page = browser.get(reverse("login"), {"next": "/my-day/"}).content.decode()
    assert 'href="/oidc/authenticate/?next=/my-day/">Sign in with Microsoft</a>' in page
    assert 'name="password"' in page  # passwords still work beside it


def test_with_password_sign_in_off_only_microsoft_is_offered(microsoft, settings, worker, password):
    settings.PASSWORD_SIGN_IN = False
    browser = Client()
    page = browser.get(reverse("login")).content.decode()
    assert "Sign in with Microsoft" in page
    assert 'name="password"' not in page

    refused = browser.post(reverse("login"), {"username": worker.username, "password": password})
    assert refused.status_code == 403
    assert "This site does not take passwords" in refused.content.decode()
    assert not is_signed_in(browser)
    # The admin's password page sends people to the site's sign-in page instead.
    assert browser.get(reverse("admin:login")).url.startswith(reverse("login"))


def test_superusers_break_glass_password_works_only_at_the_admin_and_only_if_allowed(
    microsoft, settings, password, team
):
    settings.PASSWORD_SIGN_IN = False
    settings.SUPERUSER_PASSWORD_SIGN_IN = True
    superuser = UserFactory(is_staff=True, is_superuser=True)
    staff_manager = member(team, Role.MANAGER, is_staff=True).user

    not_there = Client()
    not_there.post(reverse("login"), {"username": superuser.username, "password": password})
    assert not is_signed_in(not_there)

    not_them = Client()
    manager_login = {"username": staff_manager.username, "password": password}
    not_them.post(reverse("admin:login"), manager_login)
    assert not is_signed_in(not_them)

    break_glass = Client()
    signed_in = break_glass.post(
        reverse("admin:login"), {"username": superuser.username, "password": password}
    )
    assert signed_in.status_code == 302
    # Their second factor is still asked for.
    assert break_glass.get(reverse("admin:index")).url.startswith(reverse("two-factor-verify"))
