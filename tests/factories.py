import itertools

import factory
from django.contrib.auth import get_user_model

from homevisits import services
from homevisits.models import Membership, Role, StaffProfile, Team, TeamKind

TEST_PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name", locale="en_GB")
    last_name = factory.Faker("last_name", locale="en_GB")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def save_password(user, create, extracted, **kwargs):
        if create:
            user.save()


class TeamFactory(factory.django.DjangoModelFactory):
    """A team made through the service, so that it always has its policy and office hours."""

    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")
    kind = TeamKind.CHILDRENS_SERVICES

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.team_create(**kwargs)


class StaffProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffProfile
        django_get_or_create = ["user"]

    user = factory.SubFactory(UserFactory)
    mobile = factory.Sequence(lambda n: f"+44712345{n % 10000:04d}")


def member(team: Team, role: Role = Role.WORKER, **user_fields) -> Membership:
    """A new user with this role in the team."""
    user = UserFactory(**user_fields)
    return services.membership_set(user=user, team=team, role=role)


class HouseholdFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "riskassess.Household"

    team = factory.SubFactory(TeamFactory)
    display_name = factory.Sequence(lambda n: f"Household {n}")
    address = "1 Example Road\nDemo Town"
    postcode = "DE4 3FW"
    created_by = factory.SubFactory(UserFactory)


def assessed_household(
    team, *, author, manager, significant_risk, now, assessment_fields=None, **household_fields
):
    """A household with a signed-off assessment, made through the services like the app does.
    `assessment_fields` adds to it, e.g. {"second_person": True}."""
    from riskassess import services
    from riskassess.catalogue import ensure_catalogue
    from riskassess.models import ControlMeasure

    ensure_catalogue(ControlMeasure)  # a transactional test's flush empties the migrated rows
    household = HouseholdFactory(team=team, **household_fields)
    draft = services.risk_assessment_start(household=household, author=author, now=now)
    services.risk_assessment_save_draft(
        assessment=draft,
        actor=author,
        fields={
            "significant_risk": significant_risk,
            "review_by": draft.review_by,
            **(assessment_fields or {}),
        },
        control_measures=list(ControlMeasure.objects.all()[:1]) if significant_risk else [],
        hazards=[],
    )
    services.risk_assessment_submit(assessment=draft, actor=author, now=now)
    services.risk_assessment_sign_off(assessment=draft, manager=manager, now=now)
    return household


def supervised_case(team, *, household, case_manager, actor=None, reviews=(), **fields):
    """A youth justice case opened through the service, like the case form does."""
    from datetime import date

    from visits import services

    values = {
        "reference": f"YJ-{next(_case_numbers)}",
        "household": household,
        "case_manager": case_manager,
        "order_type": "bail",
        "rosh": "low",
        "saw": "low",
        "assessment_starts_on": date(2026, 1, 5),
    }
    values.update(fields)
    return services.case_open(
        team=team,
        details=services.CaseDetails(**values),
        actor=actor or case_manager,
        review_dates=tuple(reviews),
    )


_case_numbers = itertools.count(1000)
