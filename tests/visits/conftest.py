from datetime import timedelta

import pytest
from django.utils import timezone

from homevisits.models import Role, StaffProfile
from tests.factories import assessed_household, member
from visits.services import VisitDetails


@pytest.fixture
def now():
    return timezone.now().replace(microsecond=0)


@pytest.fixture
def second_manager(team):
    return member(team, Role.MANAGER).user


@pytest.fixture
def worker_with_mobile(worker):
    StaffProfile.objects.filter(user=worker).update(mobile="+447123456789")
    worker.refresh_from_db()
    return worker


@pytest.fixture
def household(team, worker, second_manager, now):
    """Assessed a year ago? No: assessed now, with no significant risk."""
    return assessed_household(
        team, author=worker, manager=second_manager, significant_risk=False, now=now
    )


@pytest.fixture
def flagged_household(team, worker, second_manager, now):
    return assessed_household(
        team, author=worker, manager=second_manager, significant_risk=True, now=now
    )


@pytest.fixture
def details(household, worker_with_mobile, now):
    """details(**changes) → VisitDetails for a one-hour planned visit starting in an hour."""

    def make(**changes):
        values = {
            "household": household,
            "lead_worker": worker_with_mobile,
            "purpose": "Family support session",
            "starts_at": now + timedelta(hours=1),
            "ends_at": now + timedelta(hours=2),
        }
        values.update(changes)
        return VisitDetails(**values)

    return make


@pytest.fixture
def foreign_visit(other_team, now):
    """A visit booked in another team, which nobody in `team` may see."""
    from visits import services

    outsider = member(other_team, Role.WORKER).user
    household = assessed_household(
        other_team,
        author=outsider,
        manager=member(other_team, Role.MANAGER).user,
        significant_risk=False,
        now=now,
    )
    return services.visit_book(
        details=VisitDetails(
            household=household,
            lead_worker=outsider,
            purpose="Their visit",
            starts_at=now + timedelta(hours=1),
            ends_at=now + timedelta(hours=2),
            contact_number="07123456780",
        ),
        booked_by=outsider,
        now=now,
    ).visit
