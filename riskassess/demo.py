"""Demo households in each team: flagged, no significant risk, review overdue, not assessed, and
one awaiting sign-off. Idempotent: an existing household is left as it is."""

from datetime import timedelta

from django.utils import timezone

from . import services
from .models import ControlMeasure, HazardCategory, Household

# (team key, display name, postcode, access notes, finding, author, signer)
# finding: "flagged", "clear", "overdue", "awaiting" or None (not assessed)
DEMO_HOUSEHOLDS = [
    ("childrens", "Hartley household", "DE4 3AB", "Large dog; knock at the side door.", "flagged"),
    ("childrens", "Nowak household", "DE4 2PL", "", "clear"),
    ("childrens", "Ellis household", "DE45 1QT", "Park on the main road.", "overdue"),
    ("childrens", "Crane household", "DE4 5GH", "", None),
    ("childrens", "Fairbairn household", "DE55 7JX", "", "awaiting"),
    ("school", "Ashworth family", "DE6 5LR", "", "clear"),
    ("school", "Brennan family", "DE6 2HW", "Farm track, no phone signal at the house.", "flagged"),
    ("school", "Dale family", "DE6 1AA", "", None),
    ("youth_justice", "Case YJ-1042", "NG1 5FS", "", "flagged"),
    ("youth_justice", "Case YJ-1077", "NG5 1JU", "", "overdue"),
    ("youth_justice", "Case YJ-1103", "NG7 2RD", "", None),
]

AUTHORS = {"childrens": "worker", "school": "teacher", "youth_justice": "casemanager"}
SIGNERS = {"childrens": "manager2", "school": "manager", "youth_justice": "manager2"}


def seed(*, context: dict, fast_ladder: bool = False) -> None:
    teams, users = context["teams"], context["users"]
    now = timezone.now()
    households = {}
    for team_key, name, postcode, access_notes, finding in DEMO_HOUSEHOLDS:
        household = Household.objects.filter(team=teams[team_key], display_name=name).first()
        if household is None:
            author = users[AUTHORS[team_key]]
            household = services.household_create(
                team=teams[team_key],
                actor=author,
                fields={
                    "display_name": name,
                    "address": f"{len(name)} Example Road\nDemo Town",
                    "postcode": postcode,
                    "access_notes": access_notes,
                },
            )
            if finding:
                _assess(household, finding, author, users[SIGNERS[team_key]], now)
        households[name] = household
    context["households"] = households


def _assess(household, finding, author, signer, now):
    # An overdue review is one signed off long enough ago for its review date to have passed.
    assessed_at = now - timedelta(days=120) if finding == "overdue" else now - timedelta(days=3)
    draft = services.risk_assessment_start(household=household, author=author, now=assessed_at)
    flagged = finding == "flagged"
    services.risk_assessment_save_draft(
        assessment=draft,
        actor=author,
        fields={
            "checked_case_records": True,
            "consulted_other_agencies": flagged,
            "significant_risk": flagged,
            "worker_views": "Visits have gone well so far." if not flagged else "Go in pairs.",
            "review_by": draft.review_by,
        },
        control_measures=list(ControlMeasure.objects.all()[:3]) if flagged else [],
        hazards=[
            services.HazardInput(
                category=HazardCategory.VIOLENCE if flagged else HazardCategory.ANIMALS,
                description="Raised voices and threats at the last visit"
                if flagged
                else "Friendly dog, kept in the kitchen",
                source="Case records",
                learned_on=assessed_at.date() - timedelta(days=10),
            )
        ],
    )
    services.risk_assessment_submit(assessment=draft, actor=author, now=assessed_at)
    if finding != "awaiting":
        services.risk_assessment_sign_off(
            assessment=draft, manager=signer, now=assessed_at, comment="Agreed."
        )
