from datetime import datetime, timedelta

import pytest

from homevisits.dates import LONDON
from homevisits.models import Role, StaffProfile
from tests.factories import assessed_household, member
from tracking.models import DutyRota
from visits import services as visit_services

# A Wednesday in office hours (09:00-17:00 London), in GMT, far from either clock change.
OFFICE_NOON = datetime(2026, 11, 25, 12, 0, tzinfo=LONDON)


@pytest.fixture
def now():
    return OFFICE_NOON


@pytest.fixture
def staff(team):
    """Worker, designated person, manager, backup manager and out-of-hours manager, with
    mobiles and a rota for the fixed day."""
    people = {}
    for name, role in [
        ("worker", Role.WORKER),
        ("duty", Role.DESIGNATED_PERSON),
        ("manager", Role.MANAGER),
        ("backup", Role.MANAGER),
        ("night", Role.MANAGER),
    ]:
        user = member(team, role, first_name=name.title(), last_name="Tester").user
        StaffProfile.objects.filter(user=user).update(mobile=f"+4471234560{len(people):02d}")
        people[name] = type(user).objects.select_related("staff_profile").get(pk=user.pk)
    for day in [OFFICE_NOON.date() - timedelta(days=1), OFFICE_NOON.date()]:
        rota = DutyRota.objects.create(
            team=team,
            day=day,
            designated_manager=people["manager"],
            backup_manager=people["backup"],
            out_of_hours_manager=people["night"],
        )
        rota.designated_persons.set([people["duty"]])
    return people


@pytest.fixture
def flagged(team, staff, now):
    return assessed_household(
        team,
        author=staff["worker"],
        manager=staff["manager"],
        significant_risk=True,
        now=now - timedelta(days=1),
    )


@pytest.fixture
def book(flagged, staff):
    """book(due_at, **changes) → a monitored visit whose deadline is due_at."""

    def make(due_at, *, household=None, booked_at=None, **changes):
        starts_at = due_at - timedelta(hours=1)
        details = visit_services.VisitDetails(
            household=household or flagged,
            lead_worker=staff["worker"],
            purpose="Statutory visit",
            starts_at=starts_at,
            ends_at=due_at,
            after_plan="going_home",
            hazards_acknowledged=True,
        )
        for name, value in changes.items():
            setattr(details, name, value)
        booked_at = booked_at or starts_at - timedelta(hours=1)
        return visit_services.visit_book(
            details=details, booked_by=details.lead_worker, now=booked_at
        ).visit

    return make


@pytest.fixture
def colleague(team):
    """colleague(name) → another worker in the team, with a mobile: a second person out."""
    made = []

    def make(name: str = "Colleague"):
        user = member(team, Role.WORKER, first_name=name, last_name="Tester").user
        StaffProfile.objects.filter(user=user).update(mobile=f"+4471234570{len(made):02d}")
        made.append(user)
        return type(user).objects.select_related("staff_profile").get(pk=user.pk)

    return make
