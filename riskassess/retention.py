"""Riskassess's retention rule (see homevisits.retention and the README's "Retention" table).

A household's risk information warns staff if the family is referred again, so it outlives
the case for a while; past that it goes whole: address, names, notes, every assessment version
with its hazards and history. A household that a visit or a case still refers to (an
escalation's record keeps its visit for longer) stays until they have gone.
"""

from datetime import datetime

from homevisits.retention import Rule, expire_in_batches, without_held

from .models import Household, HouseholdStatus


def closed_households_expire(*, cutoff: datetime, dry_run: bool) -> int:
    households = Household.objects.filter(status=HouseholdStatus.CLOSED, closed_at__lt=cutoff)
    return expire_in_batches(without_held(households, "households"), dry_run=dry_run)


rules = [
    Rule(
        "closed_households",
        "closed_households",
        "Households closed before the cutoff, with their risk assessments, once no visit or "
        "case refers to them: deleted",
        closed_households_expire,
    ),
]
