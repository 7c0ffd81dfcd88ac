"""Minimum home-visit frequencies for youth justice, as data.

Each `Rule` is one line of the service's home-visit guidance (section 3: one table for statutory
orders and one for My Futures and out-of-court disposals). A line that asks for two things, such as
"every three months and before each AssetPlus review", becomes two rules with the same `line`.
Another service adapts this module by editing `RULES`; `visits/compliance.py` only interprets it.

A rule has:
- a trigger: what starts the clock (see `Trigger`);
- a deadline: calendar months or working days after that start (England's bank holidays and their
  substitute days are not working days), or, for an assessment or a review, a date on the case;
- conditions: the order types it covers, and optionally the risk levels or a child protection plan.

The risk condition reads the higher of RoSH and SaW. A child matched by several periodic rules is
held to the strictest of them (the shortest period), and every matching rule is shown as a reason.
"""

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from homevisits.dates import add_months

from .models import ORDERS_WITHOUT_RISK_LEVELS, OrderType, RiskLevel
from .working_days import add_working_days


class Trigger(StrEnum):
    ASSESSMENT = "assessment"  # a visit during the assessment, by its planned end date
    PERIODIC = "periodic"  # at least every N months, counted from the last home visit
    BEFORE_REVIEW = "before_review"  # a visit before each scheduled AssetPlus review
    RELEASE = "release"  # a visit within N working days of release from custody
    ADDRESS_CHANGE = "address_change"  # a visit within N working days of each move


class Unit(StrEnum):
    MONTHS = "months"
    WORKING_DAYS = "working_days"


def _ordinal(number: int) -> str:
    suffixes = {1: "st", 2: "nd", 3: "rd"}
    suffix = "th" if 10 <= number % 100 <= 20 else suffixes.get(number % 10, "th")
    return f"{number}{suffix}"


@dataclass(frozen=True)
class Deadline:
    count: int
    unit: Unit

    def due_after(self, day: date) -> date:
        """The last day on which a visit meets this deadline, counting from `day`."""
        if self.unit == Unit.MONTHS:
            return add_months(day, self.count)
        return add_working_days(day, self.count)

    def __str__(self):
        if self.unit == Unit.MONTHS:
            return "every month" if self.count == 1 else f"every {self.count} months"
        return f"by the {_ordinal(self.count)} working day after"


@dataclass(frozen=True)
class Rule:
    code: str
    line: str  # which line of the guidance's tables this comes from
    summary: str  # the requirement in our words, as users see it
    trigger: Trigger
    orders: frozenset[str]
    deadline: Deadline | None = None  # None: the date comes from the case (assessment, review)
    risk_levels: frozenset[str] | None = None  # the higher of RoSH and SaW is one of these
    or_child_protection_plan: bool = False  # …or the child has a child protection plan

    def applies_to(self, *, order_type: str, highest_risk: str, child_protection_plan: bool):
        if order_type not in self.orders:
            return False
        if self.risk_levels is None:
            return True
        return highest_risk in self.risk_levels or (
            self.or_child_protection_plan and child_protection_plan
        )


STATUTORY_ORDERS = frozenset(
    {OrderType.COMMUNITY_ORDER, OrderType.CUSTODIAL, OrderType.BAIL, OrderType.ISS}
)
EARLY_INTERVENTIONS = frozenset(ORDERS_WITHOUT_RISK_LEVELS)
LOW_OR_MEDIUM = frozenset({RiskLevel.LOW, RiskLevel.MEDIUM})
HIGH_OR_VERY_HIGH = frozenset({RiskLevel.HIGH, RiskLevel.VERY_HIGH})
MONTHLY = Deadline(1, Unit.MONTHS)
THREE_MONTHLY = Deadline(3, Unit.MONTHS)

RULES = (
    # Statutory orders
    Rule(
        code="community_assessment",
        line="Community order: during any assessment",
        summary="Home visit during the assessment",
        trigger=Trigger.ASSESSMENT,
        orders=frozenset({OrderType.COMMUNITY_ORDER}),
    ),
    Rule(
        code="community_low_medium_periodic",
        line="Community order, low or medium RoSH/SaW",
        summary="Home visit at least every 3 months (low or medium RoSH/SaW)",
        trigger=Trigger.PERIODIC,
        orders=frozenset({OrderType.COMMUNITY_ORDER}),
        deadline=THREE_MONTHLY,
        risk_levels=LOW_OR_MEDIUM,
    ),
    Rule(
        code="community_low_medium_review",
        line="Community order, low or medium RoSH/SaW",
        summary="Home visit before the AssetPlus review (low or medium RoSH/SaW)",
        trigger=Trigger.BEFORE_REVIEW,
        orders=frozenset({OrderType.COMMUNITY_ORDER}),
        risk_levels=LOW_OR_MEDIUM,
    ),
    Rule(
        code="custody_release",
        line="Longer custodial sentence: after release",
        summary="Home visit by the 5th working day after release",
        trigger=Trigger.RELEASE,
        orders=frozenset({OrderType.CUSTODIAL}),
        deadline=Deadline(5, Unit.WORKING_DAYS),
    ),
    Rule(
        code="custody_low_medium_periodic",
        line="Longer custodial sentence, low or medium RoSH/SaW",
        summary="Home visit at least every 3 months after release (low or medium RoSH/SaW)",
        trigger=Trigger.PERIODIC,
        orders=frozenset({OrderType.CUSTODIAL}),
        deadline=THREE_MONTHLY,
        risk_levels=LOW_OR_MEDIUM,
    ),
    Rule(
        code="custody_low_medium_review",
        line="Longer custodial sentence, low or medium RoSH/SaW",
        summary="Home visit before the AssetPlus review (low or medium RoSH/SaW)",
        trigger=Trigger.BEFORE_REVIEW,
        orders=frozenset({OrderType.CUSTODIAL}),
        risk_levels=LOW_OR_MEDIUM,
    ),
    Rule(
        code="bail_monthly",
        line="Bail",
        summary="Home visit every month (bail)",
        trigger=Trigger.PERIODIC,
        orders=frozenset({OrderType.BAIL}),
        deadline=MONTHLY,
    ),
    Rule(
        code="iss_monthly",
        line="ISS",
        summary="Home visit every month (ISS)",
        trigger=Trigger.PERIODIC,
        orders=frozenset({OrderType.ISS}),
        deadline=MONTHLY,
    ),
    Rule(
        code="high_risk_or_cpp_monthly",
        line="High or very high RoSH/SaW, or a child protection plan",
        summary="Home visit every month (high or very high RoSH/SaW, or child protection plan)",
        trigger=Trigger.PERIODIC,
        orders=STATUTORY_ORDERS,
        deadline=MONTHLY,
        risk_levels=HIGH_OR_VERY_HIGH,
        or_child_protection_plan=True,
    ),
    Rule(
        code="statutory_address_change",
        line="Statutory orders: change of address",
        summary="Home visit by the 10th working day after a move",
        trigger=Trigger.ADDRESS_CHANGE,
        orders=STATUTORY_ORDERS,
        deadline=Deadline(10, Unit.WORKING_DAYS),
    ),
    # My Futures and out-of-court disposals
    Rule(
        code="early_initial_assessment",
        line="My Futures and OOCDs: initial assessment",
        summary="Home visit during the initial assessment and planning",
        trigger=Trigger.ASSESSMENT,
        orders=EARLY_INTERVENTIONS,
    ),
    Rule(
        code="early_address_change",
        line="My Futures and OOCDs: change of address",
        summary="Home visit by the 10th working day after a move",
        trigger=Trigger.ADDRESS_CHANGE,
        orders=EARLY_INTERVENTIONS,
        deadline=Deadline(10, Unit.WORKING_DAYS),
    ),
)

# When the periodic clock starts, per order: a custodial sentence's runs from release, since
# nobody can be visited at home while in custody; every other order's from the assessment start.
PERIODIC_CLOCK_STARTS_AT_RELEASE = frozenset({OrderType.CUSTODIAL})

# How soon a requirement counts as "due soon".
DUE_SOON_DAYS = 7

RISK_ORDER = list(RiskLevel)  # lowest first, as the choices are declared


def highest_risk(*levels: str) -> str:
    """The higher of the given levels; an empty level (not assessed) counts as none."""
    known = [level for level in levels if level]
    return max(known, key=RISK_ORDER.index) if known else ""


def orders_in_table() -> set[str]:
    return {order for rule in RULES for order in rule.orders}


def rules_for(*, order_type: str, rosh: str, saw: str, child_protection_plan: bool) -> list[Rule]:
    risk = highest_risk(rosh, saw)
    return [
        rule
        for rule in RULES
        if rule.applies_to(
            order_type=order_type, highest_risk=risk, child_protection_plan=child_protection_plan
        )
    ]
