import pytest
from django.utils import timezone

from homevisits.models import Role
from tests.factories import HouseholdFactory, member


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def second_manager(team):
    return member(team, Role.MANAGER).user


@pytest.fixture
def household(team, worker):
    return HouseholdFactory(team=team, created_by=worker)


@pytest.fixture
def today(now):
    return timezone.localdate(now)
