"""Security headers on every page: a strict Content-Security-Policy, a Permissions-Policy, and
`Cache-Control: no-store`, so personal data and new secrets are never kept in a browser's or a
proxy's cache. The policy forbids inline script, event handlers and style attributes, so the
templates (and every page as rendered) must carry none."""

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from homevisits import services as homevisits_services
from homevisits.models import Role, TeamKind
from tests.factories import TeamFactory, UserFactory, assessed_household, member, supervised_case
from tracking import services as tracking_services
from tracking.models import Escalation
from visits import services as visit_services

TEMPLATES = Path(settings.BASE_DIR) / "templates"

# What the policy must say, directive by directive.
STRICT_POLICY = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "img-src": {"'self'", "data:"},
    "connect-src": {"'self'"},
    "object-src": {"'none'"},
    "base-uri": {"'none'"},
    "form-action": {"'self'"},
    "frame-ancestors": {"'none'"},
}
POWERFUL_FEATURES_OFF = ["camera=()", "microphone=()", "usb=()", "payment=()"]

# Markup the policy would block (or that needs eval, which it forbids too).
INLINE_SCRIPT = re.compile(
    r"<script\b(?![^>]*\bsrc=)(?![^>]*type=[\"']application/json)[^>]*>", re.I
)
SCRIPT_WITH_A_BODY = re.compile(r"<script\b[^>]*\bsrc=[^>]*>\s*[^<\s]", re.I)
TAG = re.compile(r"<[a-zA-Z][^<>]*>")
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
STYLE_ATTRIBUTE = re.compile(r"\sstyle\s*=", re.I)
HX_ON = re.compile(r"\s(data-)?hx-on\b", re.I)
HX_EVAL = re.compile(r"""\shx-(vals|vars|trigger)=["'][^"']*(\bjs:|javascript:|\[)""", re.I)


def inline_code(markup: str) -> list[str]:
    """Every piece of `markup` that the Content-Security-Policy would refuse to run or apply."""
    found = [m.group(0) for m in INLINE_SCRIPT.finditer(markup)]
    found += [m.group(0)[:80] for m in SCRIPT_WITH_A_BODY.finditer(markup)]
    found += re.findall(r"<style\b[^>]*>", markup, re.I)
    found += re.findall(r"""(?:href|action|src)=["']\s*javascript:""", markup, re.I)
    for tag in TAG.findall(markup):
        if any(p.search(tag) for p in (EVENT_HANDLER, STYLE_ATTRIBUTE, HX_ON, HX_EVAL)):
            found.append(tag[:120])
    return found


def test_no_template_has_inline_script_event_handlers_hx_on_or_style_attributes():
    templates = sorted(TEMPLATES.rglob("*.html"))
    assert len(templates) > 50
    offending = {
        str(path.relative_to(TEMPLATES)): found
        for path in templates
        if (found := inline_code(path.read_text()))
    }
    assert offending == {}


def test_the_scan_finds_each_kind_of_inline_code():
    assert inline_code('<script>alert(1)</script><script src="/s.js"></script>') == ["<script>"]
    assert inline_code('<script src="/s.js">alert(1)</script>')
    assert inline_code('<form method="post" onsubmit="return confirm(\'Sure?\')">')
    assert inline_code('<th style="width: 12rem">')
    assert inline_code('<button hx-on:click="go()">')
    assert inline_code('<div hx-trigger="every 5s [isIdle()]">')
    assert inline_code('<a href="javascript:void(0)">')
    assert inline_code("<style>.x{}</style>")
    assert inline_code('<script type="application/json" id="data">{}</script>') == []
    assert inline_code('<div hx-trigger="every 5s" data-confirm="Sure?">') == []


def policy(response) -> dict[str, set[str]]:
    header = response["Content-Security-Policy"]
    return {
        name: set(values)
        for name, *values in (part.split() for part in header.split(";") if part.strip())
    }


def test_the_policy_is_strict(client, worker):
    client.force_login(worker)
    response = client.get(reverse("home"))
    assert policy(response) == STRICT_POLICY
    permissions = response["Permissions-Policy"]
    assert "geolocation=(self)" in permissions
    assert all(feature in permissions for feature in POWERFUL_FEATURES_OFF)
    assert response["Cache-Control"] == "no-store"


# The crawl: every URL pattern, for each role, with ids of real objects.


@pytest.fixture
def organisation(db):
    """Two teams (children's services and youth justice) with one person in each role in both,
    a household with a signed-off assessment, an overdue monitored visit with its escalation,
    a youth justice case with a review, a calendar feed and an API token."""
    now = timezone.now()
    team, yj_team = TeamFactory(), TeamFactory(kind=TeamKind.YOUTH_JUSTICE)
    people = {}
    for role in Role:
        people[role] = member(team, role, first_name=role.label.split()[0]).user
        homevisits_services.membership_set(user=people[role], team=yj_team, role=role)
    second_manager = member(team, Role.MANAGER).user  # signs off the people's assessments
    homevisits_services.membership_set(user=second_manager, team=yj_team, role=Role.MANAGER)
    household = assessed_household(
        team,
        author=people[Role.WORKER],
        manager=second_manager,
        significant_risk=True,
        now=now - timedelta(days=1),
    )
    visit = visit_services.visit_book(
        details=visit_services.VisitDetails(
            household=household,
            lead_worker=people[Role.WORKER],
            purpose="Statutory visit",
            starts_at=now - timedelta(hours=1),
            ends_at=now - timedelta(minutes=10),
            after_plan="going_home",
            contact_number="07123 456780",
            hazards_acknowledged=True,
        ),
        booked_by=people[Role.WORKER],
        now=now - timedelta(hours=2),
    ).visit
    tracking_services.sweep(now=now)
    yj_household = assessed_household(
        yj_team, author=people[Role.WORKER], manager=second_manager, significant_risk=False, now=now
    )
    case = supervised_case(
        yj_team,
        household=yj_household,
        case_manager=people[Role.WORKER],
        reviews=[date.today() + timedelta(days=30)],
    )
    feed, feed_secret = visit_services.calendar_feed_create(
        user=people[Role.WORKER], expires_at=now + timedelta(days=30), now=now
    )
    token, _ = homevisits_services.api_token_create(user=people[Role.WORKER], name="Phone", now=now)
    ids = {
        "household": household.pk,
        "assessment": household.assessments.get().pk,
        "visit": visit.pk,
        "escalation": Escalation.objects.get(visit=visit).pk,
        "case": case.pk,
        "review": case.reviews.get().pk,
        "feed": feed.pk,
        "token": token.pk,
        "worker": people[Role.WORKER].pk,
        "team": team.slug,
        "yj_team": yj_team.slug,
        "feed_secret": feed_secret,
    }
    return people, ids


# Which object each URL's arguments name, by the URL name's first word; `slug` is a team.
OBJECT_BY_URL_PREFIX = {
    "household": "household",
    "assessment": "assessment",
    "visit": "visit",
    "tracking": "visit",
    "api:": "visit",
    "escalation": "escalation",
    "case": "case",
    "feed": "feed",
    "token": "token",
}
SPECIAL_ARGUMENTS = {
    ("tracking-office-still-safe", "pk"): "worker",
    ("calendar-feed", "token"): "feed_secret",
    ("outlook-disconnect", "user_id"): "worker",
}


def url_patterns(patterns=None, namespace=""):
    """(name, argument names) of every URL pattern outside the admin, which is crawled apart."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace != "admin":
                inner = f"{pattern.namespace}:" if pattern.namespace else namespace
                yield from url_patterns(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield namespace + pattern.name, list(pattern.pattern.converters)


def argument(name: str, argument_name: str, ids: dict):
    if (name, argument_name) in SPECIAL_ARGUMENTS:
        return ids[SPECIAL_ARGUMENTS[name, argument_name]]
    if argument_name == "slug":
        return ids["yj_team" if name.startswith(("compliance", "case")) else "team"]
    if argument_name == "review_pk":
        return ids["review"]
    if argument_name == "household_id":
        return ids["household"]
    prefix = next((p for p in OBJECT_BY_URL_PREFIX if name.startswith(p)), None)
    assert prefix, f"say which object the URL {name} takes as `{argument_name}`"
    return ids[OBJECT_BY_URL_PREFIX[prefix]]


def crawl_urls(ids: dict) -> list[tuple[str, str]]:
    urls = {}
    for name, arguments in url_patterns():
        kwargs = {a: argument(name, a, ids) for a in arguments}
        urls.setdefault(reverse(name, kwargs=kwargs), name)
    return list(urls.items())


def admin_urls() -> list[str]:
    """The admin's index, and each model's list and its first object's form (or an empty one)."""
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        first = model._default_manager.order_by("pk").first()
        form = reverse(f"{info}_change", args=[first.pk]) if first else reverse(f"{info}_add")
        urls += [reverse(f"{info}_changelist"), form]
    return urls


def header_problems(url: str, response) -> list[str]:
    problems = []
    if "no-store" not in re.split(r"\s*,\s*", response.get("Cache-Control", "")):
        problems.append(f"{url}: Cache-Control is {response.get('Cache-Control')!r}")
    if "camera=()" not in response.get("Permissions-Policy", ""):
        problems.append(f"{url}: no Permissions-Policy")
    if response.status_code in (404, 500) and settings.DEBUG:
        return problems  # django-csp leaves Django's debug pages alone
    if "Content-Security-Policy" not in response:
        return [*problems, f"{url}: no Content-Security-Policy"]
    script_src = policy(response)["script-src"]
    if script_src & {"'unsafe-inline'", "'unsafe-eval'"}:
        problems.append(f"{url}: script-src allows {script_src}")
    if response.status_code == 200 and "html" in response.get("Content-Type", ""):
        problems += [f"{url}: inline {code}" for code in inline_code(response.content.decode())]
    return problems


# Workers and volunteers have no home page of their own: it sends them to their day (Now).
ROLE_PAGES = {
    Role.WORKER: {"my-day", "tracking-now", "visit-detail", "connections", "case-detail"},
    Role.VOLUNTEER: {"my-day", "tracking-now"},
    Role.DESIGNATED_PERSON: {"tracking-board", "tracking-board-rows", "escalation-detail"},
    Role.MANAGER: {"tracking-board", "escalation-detail", "assessment-detail", "tracking-rota"},
    Role.ADMIN: {"home", "team-settings", "team-settings-edit"},
}


@pytest.mark.parametrize("role", list(Role), ids=str)
def test_every_page_for_each_role_has_the_headers_and_no_inline_code(client, organisation, role):
    people, ids = organisation
    client.force_login(people[role])
    problems, answered = [], set()
    for url, name in crawl_urls(ids):
        response = client.get(url)
        problems += header_problems(url, response)
        if response.status_code == 200:
            answered.add(name)
    assert problems == []
    assert ROLE_PAGES[role] <= answered  # the crawl reached the role's own pages
    assert {"calendar-feed", "api:list_my_visits", "api:openapi-view"} <= answered


def test_every_admin_page_and_the_sign_in_page_have_the_headers(client, organisation):
    client.logout()
    signed_out = [reverse("login"), reverse("home")]  # the sign-in page, and the way to it
    problems = [p for url in signed_out for p in header_problems(url, client.get(url))]
    superuser = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(superuser)
    answered = 0
    for url in admin_urls():
        response = client.get(url)
        problems += header_problems(url, response)
        answered += response.status_code == 200
    assert problems == []
    assert answered > 10


def test_a_new_api_token_and_new_backup_codes_are_shown_with_no_store(client, manager):
    client.force_login(manager)
    page = client.post(
        reverse("token-create"), {"name": "Phone", "scope": "all", "days": "90"}, follow=True
    )
    assert "Your new API token" in page.content.decode()
    assert "no-store" in page["Cache-Control"]
    codes = client.post(reverse("two-factor-manage"))
    assert codes.context["backup_codes"][0] in codes.content.decode()
    assert "no-store" in codes["Cache-Control"]


def test_static_files_keep_their_own_caching(client, settings):
    settings.WHITENOISE_USE_FINDERS = settings.WHITENOISE_AUTOREFRESH = True  # as under runserver
    response = client.get(settings.STATIC_URL + "css/app.css")  # served by whitenoise
    assert response.status_code == 200
    assert "max-age" in response["Cache-Control"]
    assert "no-store" not in response["Cache-Control"]
