"""Every page and API path that names a team's object by its id (or a team by its slug) answers
404 for another team's object and for one that does not exist: it never shows an empty page, a
403 that admits the object exists, or someone else's data.

The URL patterns are walked, not listed by hand, so a new page with an id in its path fails
here until it says which object that id names. The booking form's risk summary, which takes
its household in the query string, is tested in tests/visits/test_pages.py."""

from datetime import date, timedelta

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from homevisits import services as homevisits_services
from homevisits.models import Role, StaffProfile, TeamKind
from tests.factories import TeamFactory, assessed_household, member, supervised_case
from tracking.models import Escalation, Step
from visits import services as visit_services
from visits.models import OutlookCalendar

# What each path parameter names, by URL name. Team slugs count too.
OBJECT_NAMED_BY = {
    "team-detail": "team",
    "team-audit-log": "team",
    "team-audit-log-export": "team",
    "household-audit": "household",
    "team-settings-edit": "team",
    "team-calendar": "team",
    "compliance-board": "team",
    "case-create": "team",
    "tracking-duty-end": "team",
    "tracking-rota": "team",
    "tracking-rota-copy": "team",
    "team-report": "team",
    "team-report-print": "team",
    "team-report-export": "team",
    "household-detail": "household",
    "household-edit": "household",
    "household-status": "household",
    "assessment-start": "household",
    "household-visits": "household",
    "assessment-detail": "assessment",
    "assessment-edit": "assessment",
    "assessment-decide": "assessment",
    "visit-detail": "visit",
    "visit-edit": "visit",
    "visit-cancel": "visit",
    "visit-outcome": "visit",
    "tracking-phone-in": "visit",
    "tracking-go-ahead": "visit",
    "tracking-go-ahead-status": "visit",
    "tracking-check-in": "visit",
    "tracking-need-help": "visit",
    "tracking-help-location": "visit",
    "tracking-code-word": "visit",
    "help_location": "visit",
    "get_visit": "visit",
    "update_visit": "visit",
    "cancel_visit": "visit",
    "check_in": "visit",
    "case-detail": "case",
    "case-edit": "case",
    "case-address-change": "case",
    "case-review-add": "case",
    "case-review-remove": "case",
    "case-variation": "case",
    "case-variation-end": "case",
    "escalation-detail": "escalation",
    "escalation-act": "escalation",
    "escalation-emergency-details": "escalation",
    "tracking-office-still-safe": "worker",
    "outlook-calendars": "team",
    "outlook-retry": "team",
    "outlook-disconnect": "worker",
    "feed-revoke": "feed",
    "token-revoke": "token",
}
# The calendar feed's path holds a secret token, which is its own credential (see test_ics);
# the admin site is for site staff, who see every team.
NOT_TEAM_SCOPED = {"calendar-feed"}
MISSING_ID = 2_000_000_000


def patterns_with_parameters(patterns=None, prefix=""):
    """(route, name, parameter names) for every URL pattern that takes parameters."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            if pattern.app_name == "admin":
                continue
            yield from patterns_with_parameters(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern) and pattern.pattern.converters:
            yield prefix + str(pattern.pattern), pattern.name, list(pattern.pattern.converters)
        elif isinstance(pattern, URLPattern) and "<" in str(pattern.pattern):
            # django-ninja's "{visit_id}" paths become "<visit_id>": untyped, no converter
            route = prefix + str(pattern.pattern)
            names = [part.split(">")[0] for part in route.split("<")[1:]]
            yield route, pattern.name, names


def fill(route: str, values: dict[str, object]) -> str:
    for name, value in values.items():
        route = route.replace(f"<int:{name}>", str(value))
        route = route.replace(f"<slug:{name}>", str(value)).replace(f"<{name}>", str(value))
    return "/" + route


@pytest.fixture
def signed_in_manager(client, db):
    """A manager (every capability) of a youth justice team, so no page refuses for the role
    or the team's kind before looking the object up."""
    own_team = TeamFactory(kind=TeamKind.YOUTH_JUSTICE)
    manager = member(own_team, Role.MANAGER).user
    client.force_login(manager)
    return client


@pytest.fixture
def another_teams_objects(db):
    """One of everything, in another youth justice team."""
    now = timezone.now()
    team = TeamFactory(kind=TeamKind.YOUTH_JUSTICE)
    worker = member(team, Role.WORKER).user
    StaffProfile.objects.filter(user=worker).update(mobile="+447123456780")
    household = assessed_household(
        team,
        author=worker,
        manager=member(team, Role.MANAGER).user,
        significant_risk=False,
        now=now,
    )
    visit = visit_services.visit_book(
        details=visit_services.VisitDetails(
            household=household,
            lead_worker=worker,
            purpose="Their visit",
            starts_at=now - timedelta(hours=2),
            ends_at=now - timedelta(hours=1),
            contact_number="07123456780",
        ),
        booked_by=worker,
        now=now - timedelta(hours=3),
    ).visit
    case = supervised_case(
        team, household=household, case_manager=worker, reviews=[date(2026, 6, 1)]
    )
    escalation = Escalation.objects.create(
        visit=visit,
        worker=worker,
        team=team,
        due_at=visit.ends_at,
        opened_at=now,
        step=Step.ATTEMPT_1,
    )
    feed, _ = visit_services.calendar_feed_create(
        user=worker, expires_at=now + timedelta(days=30), now=now
    )
    token, _ = homevisits_services.api_token_create(user=worker, name="Their phone", now=now)
    OutlookCalendar.objects.create(
        user=worker,
        principal_name="their.worker@example.org",
        connected_by=worker,
        connected_at=now,
    )
    ids = {
        "household": household.pk,
        "assessment": household.assessments.get().pk,
        "visit": visit.pk,
        "case": case.pk,
        "escalation": escalation.pk,
        "worker": worker.pk,
        "feed": feed.pk,
        "token": token.pk,
    }
    return {"team": team.slug, **ids, "review": case.reviews.get().pk}


# A body every API write accepts the shape of, so that the lookup, not validation, answers.
API_BODY = {
    "reason": "Not needed",
    "kind": "arrived",
    "latitude": 51.5,
    "longitude": -0.1,
    "accuracy_m": 30,
    "taken_at": "2026-01-01T12:00:00Z",
}


def answers(client, url: str) -> set[int]:
    """The statuses of a GET and of a POST (and a PATCH, for the API); a view that does not
    take the method answers 405, which tells nothing about the object."""
    statuses = {client.get(url).status_code}
    if url.startswith("/api/"):
        for send in (client.post, client.patch):
            statuses.add(send(url, API_BODY, content_type="application/json").status_code)
    else:
        statuses.add(client.post(url, {}).status_code)
    return statuses - {405}


def test_every_page_with_an_id_in_its_path_says_what_the_id_names():
    named = {name for _, name, _ in patterns_with_parameters()} - NOT_TEAM_SCOPED
    assert named == set(OBJECT_NAMED_BY), "add new pages to OBJECT_NAMED_BY"


def test_another_teams_object_is_404_on_every_page_that_names_it(
    signed_in_manager, another_teams_objects
):
    leaks = []
    for route, name, parameters in patterns_with_parameters():
        if name in NOT_TEAM_SCOPED:
            continue
        values = dict.fromkeys(parameters, another_teams_objects[OBJECT_NAMED_BY[name]])
        if "review_pk" in values:
            values["review_pk"] = another_teams_objects["review"]
        url = fill(route, values)
        if answers(signed_in_manager, url) != {404}:
            leaks.append((url, answers(signed_in_manager, url)))
    assert leaks == [], leaks


def test_a_missing_object_is_404_on_every_page_that_names_one(signed_in_manager):
    wrong = []
    for route, name, parameters in patterns_with_parameters():
        if name in NOT_TEAM_SCOPED:
            continue
        missing = "no-such-team" if OBJECT_NAMED_BY[name] == "team" else MISSING_ID
        url = fill(route, dict.fromkeys(parameters, missing))
        if answers(signed_in_manager, url) != {404}:
            wrong.append((url, answers(signed_in_manager, url)))
    assert wrong == [], wrong
