import pytest

from homevisits.models import Role

from .factories import TEST_PASSWORD, TeamFactory, member
from .support import SignedInClient


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


@pytest.fixture
def client():
    """Signs in completely, the second factor included where the role needs one."""
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
