import pytest
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY

from homevisits.models import Role
from homevisits.selectors import needs_two_factor

from .factories import TEST_PASSWORD, TeamFactory, member


@pytest.fixture
def team(db):
    return TeamFactory()


@pytest.fixture
def other_team(db):
    return TeamFactory()


@pytest.fixture
def password():
    return TEST_PASSWORD


@pytest.fixture
def worker(team):
    return member(team, Role.WORKER).user


@pytest.fixture
def designated_person(team):
    return member(team, Role.DESIGNATED_PERSON).user


@pytest.fixture
def manager(team):
    return member(team, Role.MANAGER).user


@pytest.fixture
def team_admin(team):
    return member(team, Role.ADMIN).user


class SignedInClient(Client):
    """A test client whose force_login signs in completely: for managers and designated persons
    that includes the second factor, as if they had typed a code from their app. Tests of the
    two-factor step itself use a plain Client."""

    def force_login(self, user, backend=None):
        super().force_login(user, backend)
        if needs_two_factor(user):
            session = self.session
            session[DEVICE_ID_SESSION_KEY] = verified_app(user).persistent_id
            session.save()


def verified_app(user):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device, _ = TOTPDevice.objects.get_or_create(
        user=user, confirmed=True, defaults={"name": "Test app"}
    )
    return device


@pytest.fixture
def client():
    return SignedInClient()


@pytest.fixture
def client_for(client):
    """Log the given user in on the test client and return the client."""

    def log_in(user):
        client.force_login(user)
        return client

    return log_in


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # The real hasher costs ~0.3 s a login by design; tests only need it to be a hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
