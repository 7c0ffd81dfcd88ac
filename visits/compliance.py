"""Which home visits a supervised child needs, by when, and whether they happened.

A pure computation over plain facts (no database), so that every rule can be tested by hand-worked
dates. `selectors.py` gathers the facts; `frequency_rules.py` holds the rules.

How each trigger becomes requirements:
- ASSESSMENT: one visit on or after the assessment start, due by its planned end (no end date:
  no due date yet). A later visit still meets it, late.
- PERIODIC: the clock starts at the assessment start (at release, for custody). Each completed
  home visit meets the cycle it falls in, and the next cycle runs from that visit. So "at least
  monthly" is always counted from the last completed home visit, or from the clock start when
  there has been none. The strictest matching rule sets the period.
- BEFORE_REVIEW: for each AssetPlus review after the clock start, a visit between the previous
  review (or the clock start) and the day before this one. Once the review day comes, an unmet
  requirement is missed: a later visit cannot be "before" it.
- RELEASE, ADDRESS_CHANGE: a visit on or after the event day, due by the Nth working day after.
  A future date schedules the requirement.

A variation in force changes this: "home visits not appropriate" suspends every unmet
requirement; an agreed frequency replaces the periodic rules' period with its own.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from .frequency_rules import (
    DUE_SOON_DAYS,
    PERIODIC_CLOCK_STARTS_AT_RELEASE,
    Deadline,
    Rule,
    Trigger,
    Unit,
    orders_in_table,
    rules_for,
)
from .models import VariationKind


class Status(StrEnum):
    MET = "met"
    UPCOMING = "upcoming"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    MISSED = "missed"
    SUSPENDED = "suspended"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]

    @property
    def badge_class(self) -> str:
        return STATUS_BADGES[self]


STATUS_LABELS = {
    Status.MET: "Met",
    Status.UPCOMING: "Not due yet",
    Status.DUE_SOON: "Due soon",
    Status.OVERDUE: "Overdue",
    Status.MISSED: "Missed",
    Status.SUSPENDED: "Suspended by variation",
}
# Colour is never the only signal: the badge always carries its label (and a symbol).
STATUS_BADGES = {
    Status.MET: "text-bg-success",
    Status.UPCOMING: "text-bg-light border",
    Status.DUE_SOON: "text-bg-warning",
    Status.OVERDUE: "text-bg-danger",
    Status.MISSED: "text-bg-dark",
    Status.SUSPENDED: "text-bg-info",
}
EVENT_LABELS = {
    Trigger.RELEASE: "released",
    Trigger.ADDRESS_CHANGE: "moved",
    Trigger.BEFORE_REVIEW: "review on",
}
OPEN_STATUSES = (Status.OVERDUE, Status.DUE_SOON, Status.UPCOMING)


@dataclass(frozen=True)
class HomeVisit:
    """A completed visit at the child's home, on this London calendar day."""

    pk: int
    day: date


@dataclass(frozen=True)
class VariationFacts:
    kind: str
    review_on: date
    every_months: int | None = None
    arrangement: str = ""


@dataclass(frozen=True)
class CaseFacts:
    order_type: str
    assessment_starts_on: date
    rosh: str = ""
    saw: str = ""
    child_protection_plan: bool = False
    assessment_ends_on: date | None = None
    released_on: date | None = None
    reviews: tuple[date, ...] = ()
    moves: tuple[date, ...] = ()
    variation: VariationFacts | None = None


@dataclass
class Requirement:
    trigger: Trigger
    reason: str
    starts_on: date  # visits from this day on count
    due_on: date | None
    rules: tuple[Rule, ...] = ()
    met_by: HomeVisit | None = None
    status: Status = Status.UPCOMING
    event_on: date | None = None  # the release, move or review that started it

    @property
    def met_late(self) -> bool:
        return self.met_by is not None and self.due_on is not None and self.met_by.day > self.due_on

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def event_label(self) -> str:
        return EVENT_LABELS.get(self.trigger, "")


class UnknownOrderType(ValueError):
    pass


def requirements(facts: CaseFacts, *, visits: list[HomeVisit], today: date) -> list[Requirement]:
    """Every requirement of the case up to now and the ones scheduled, soonest due first."""
    if facts.order_type not in orders_in_table():
        raise UnknownOrderType(f"{facts.order_type!r} is not an order type in the rules table.")
    done = sorted((v for v in visits if v.day <= today), key=lambda v: (v.day, v.pk))
    rules = rules_for(
        order_type=facts.order_type,
        rosh=facts.rosh,
        saw=facts.saw,
        child_protection_plan=facts.child_protection_plan,
    )
    found = []
    for rule in rules:
        if rule.trigger == Trigger.ASSESSMENT:
            found.append(_during_assessment(rule, facts, done))
        elif rule.trigger == Trigger.BEFORE_REVIEW:
            found += _before_reviews(rule, facts, done)
        elif rule.trigger == Trigger.RELEASE and facts.released_on:
            found.append(_after_event(rule, facts.released_on, done))
        elif rule.trigger == Trigger.ADDRESS_CHANGE:
            found += [_after_event(rule, moved_on, done) for moved_on in sorted(facts.moves)]
    found += _periodic([r for r in rules if r.trigger == Trigger.PERIODIC], facts, done)
    for requirement in found:
        requirement.status = _status(requirement, today)
    variation = facts.variation
    if variation and variation.kind == VariationKind.NOT_APPROPRIATE:
        for requirement in found:
            if requirement.is_open:
                requirement.status = Status.SUSPENDED
    return sorted(found, key=lambda r: (r.due_on or date.max, r.starts_on, r.reason))


def clock_start(facts: CaseFacts) -> date | None:
    if facts.order_type in PERIODIC_CLOCK_STARTS_AT_RELEASE:
        return facts.released_on
    return facts.assessment_starts_on


def _first_from(visits, day: date) -> HomeVisit | None:
    return next((v for v in visits if v.day >= day), None)


def _during_assessment(rule: Rule, facts: CaseFacts, visits) -> Requirement:
    return Requirement(
        trigger=rule.trigger,
        reason=rule.summary,
        rules=(rule,),
        starts_on=facts.assessment_starts_on,
        due_on=facts.assessment_ends_on,
        met_by=_first_from(visits, facts.assessment_starts_on),
    )


def _after_event(rule: Rule, event_on: date, visits) -> Requirement:
    return Requirement(
        trigger=rule.trigger,
        reason=rule.summary,
        rules=(rule,),
        starts_on=event_on,
        due_on=rule.deadline.due_after(event_on),
        met_by=_first_from(visits, event_on),
        event_on=event_on,
    )


def _before_reviews(rule: Rule, facts: CaseFacts, visits) -> list[Requirement]:
    start = clock_start(facts)
    if start is None:
        return []
    found = []
    window_start = start
    for review_on in sorted(day for day in facts.reviews if day > start):
        last_day = review_on - timedelta(days=1)
        in_window = [v for v in visits if window_start <= v.day <= last_day]
        found.append(
            Requirement(
                trigger=rule.trigger,
                reason=rule.summary,
                rules=(rule,),
                starts_on=window_start,
                due_on=last_day,
                met_by=in_window[-1] if in_window else None,
                event_on=review_on,
            )
        )
        window_start = review_on
    return found


def _periodic(rules: list[Rule], facts: CaseFacts, visits) -> list[Requirement]:
    variation = facts.variation
    if variation and variation.kind == VariationKind.FREQUENCY:
        deadline = Deadline(variation.every_months, Unit.MONTHS)
        reason = f"Home visit {deadline} (agreed variation)"
        rules = ()
    elif rules:
        deadline = min((rule.deadline for rule in rules), key=lambda d: d.count)
        reason = "; ".join(rule.summary for rule in rules)
        rules = tuple(rules)
    else:
        return []
    start = clock_start(facts)
    if start is None:
        return []
    found = []
    anchor, first = start, True
    for visit in visits:
        if visit.day < anchor or (visit.day == anchor and not first):
            continue
        found.append(_cycle(reason, rules, anchor, deadline, met_by=visit))
        anchor, first = visit.day, False
    found.append(_cycle(reason, rules, anchor, deadline, met_by=None))
    return found


def _cycle(reason, rules, anchor: date, deadline: Deadline, *, met_by) -> Requirement:
    return Requirement(
        trigger=Trigger.PERIODIC,
        reason=reason,
        rules=rules,
        starts_on=anchor,
        due_on=deadline.due_after(anchor),
        met_by=met_by,
    )


def _status(requirement: Requirement, today: date) -> Status:
    if requirement.met_by is not None:
        return Status.MET
    due_on = requirement.due_on
    if due_on is None:
        return Status.UPCOMING
    if due_on < today:
        # A visit after the review day can no longer be "before" it.
        return Status.MISSED if requirement.trigger == Trigger.BEFORE_REVIEW else Status.OVERDUE
    if (due_on - today).days <= DUE_SOON_DAYS:
        return Status.DUE_SOON
    return Status.UPCOMING


def review_due(variation: VariationFacts | None, *, today: date) -> bool:
    """A variation past its review date is due for review (it stays in force meanwhile)."""
    return variation is not None and variation.review_on < today
