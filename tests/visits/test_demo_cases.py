"""seed_demo's youth justice cases: every frequency rule appears, some overdue; idempotent."""

from django.core.management import call_command
from django.utils import timezone

from homevisits.models import Team
from visits import selectors
from visits.compliance import Status
from visits.demo import DEMO_CASES
from visits.frequency_rules import RULES
from visits.models import AddressChange, AssetPlusReview, SupervisedCase, Variation

COUNTED = [SupervisedCase, AssetPlusReview, AddressChange, Variation]


def test_seed_demo_cases_are_idempotent(db, settings):
    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)
    first = {model.__name__: model.objects.count() for model in COUNTED}
    call_command("seed_demo", verbosity=0)
    assert {model.__name__: model.objects.count() for model in COUNTED} == first
    assert first["SupervisedCase"] == len(DEMO_CASES)


def test_demo_cases_cover_every_rule_with_some_overdue_and_a_review_due(db, settings):
    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)
    team = Team.objects.get(kind="youth_justice")
    today = timezone.localdate()
    reached, statuses = set(), set()
    for case in SupervisedCase.objects.all():
        for requirement in selectors.case_compliance(case=case, today=today).requirements:
            reached |= {rule.code for rule in requirement.rules}
            statuses.add(requirement.status)
    assert reached == {rule.code for rule in RULES}
    assert {Status.OVERDUE, Status.DUE_SOON, Status.UPCOMING, Status.SUSPENDED} <= statuses
    board = selectors.compliance_board(team=team, today=today)
    assert board.overdue and board.due_soon and board.reviews_due
