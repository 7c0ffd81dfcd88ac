from datetime import timedelta

import pytest
from django.utils import timezone

from homevisits.models import Role, StaffProfile, TeamKind
from tests.factories import TeamFactory, assessed_household, member, supervised_case
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


# Youth justice visit frequency


@pytest.fixture
def yj_team(db):
    return TeamFactory(kind=TeamKind.YOUTH_JUSTICE)


@pytest.fixture
def yj_manager(yj_team):
    return member(yj_team, Role.MANAGER).user


@pytest.fixture
def case_worker(yj_team):
    user = member(yj_team, Role.WORKER).user
    StaffProfile.objects.filter(user=user).update(mobile="+447123456788")
    user.refresh_from_db()
    return user


@pytest.fixture
def yj_household(yj_team, case_worker, yj_manager, now):
    return assessed_household(
        yj_team, author=case_worker, manager=yj_manager, significant_risk=False, now=now
    )


@pytest.fixture
def make_case(yj_team, yj_household, case_worker):
    """make_case(**fields) → a bail case (low risk) at yj_household, managed by case_worker."""

    def make(**fields):
        fields.setdefault("household", yj_household)
        fields.setdefault("case_manager", case_worker)
        return supervised_case(yj_team, **fields)

    return make


@pytest.fixture
def completed_home_visit(yj_household, case_worker):
    """completed_home_visit(on=<date>, venue="") → a visit booked and completed on that day."""
    from datetime import datetime, time

    from homevisits.dates import LONDON
    from visits import services

    def make(*, on, household=None, venue=""):
        starts_at = datetime.combine(on, time(10), tzinfo=LONDON)
        visit = services.visit_book(
            details=VisitDetails(
                household=household or yj_household,
                lead_worker=case_worker,
                purpose="Home visit",
                starts_at=starts_at,
                ends_at=starts_at + timedelta(hours=1),
                venue=venue,
            ),
            booked_by=case_worker,
            now=starts_at - timedelta(days=1),
        ).visit
        return services.visit_record_outcome(
            visit=visit, actor=case_worker, outcome="completed", now=starts_at + timedelta(hours=1)
        )

    return make
