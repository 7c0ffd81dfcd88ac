"""The team report: is our tracking system working?

Figures for a chosen period (visits, escalations, response times, notifications, risk
assessments, youth justice visit frequency, gaps in the rota) and monthly trends for its charts.
Every figure comes from a fixed number of queries, whatever the amount of data: counts are
aggregates in the database. Response times need their values in order (median, 90th
percentile), so one query reads each escalation's few timestamps (never whole rows) and Python
sorts the durations: the same code on SQLite and PostgreSQL, and a year of a large team's
escalations is a few thousand rows.

Figures that only make sense today (assessments awaiting sign-off, reviews overdue, variations
due for review) are as of today whatever the period. Which visits were monitored is worked out
with today's risk assessments, as everywhere else in the app.
"""

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Count, Exists, OuterRef, Q, Subquery

from homevisits.dates import LONDON, add_months, london_day_bounds
from homevisits.models import Team, TeamKind
from riskassess.models import AssessmentEvent, AssessmentStatus, HouseholdStatus, RiskAssessment
from riskassess.selectors import flagged
from visits import selectors as visit_selectors
from visits.compliance import Requirement, Status
from visits.models import Visit, VisitKind, VisitStatus
from visits.selectors import MONITORED

from ..models import (
    AttemptResult,
    Cause,
    ClosedBy,
    ContactAttempt,
    DeliveryStatus,
    DutyRota,
    Escalation,
    Notification,
    NotificationChannel,
    Outcome,
    Step,
)

MAX_PERIOD_MONTHS = 24  # a longer period is refused: two years at most
TREND_MONTHS = 12  # the charts show at least the twelve months up to the period's end
NOTHING = "–"  # a figure that cannot be worked out (no data), in tables and CSV alike
ROTA_GAP_DAYS_SHOWN = 31  # the page lists this many days with gaps; the CSV lists them all


@dataclass(frozen=True)
class Period:
    """London calendar days, both inclusive."""

    first_day: date
    last_day: date

    @property
    def start(self) -> datetime:
        return london_day_bounds(self.first_day)[0]

    @property
    def end(self) -> datetime:
        return london_day_bounds(self.last_day)[1]

    def __str__(self):
        return f"{_long_day(self.first_day)} to {_long_day(self.last_day)}"

    def query(self) -> str:
        return f"first_day={self.first_day:%d/%m/%Y}&last_day={self.last_day:%d/%m/%Y}"


def month_containing(day: date) -> Period:
    first = day.replace(day=1)
    return Period(first, add_months(first, 1) - timedelta(days=1))


def trend_months(period: Period) -> list[date]:
    """The first day of each month the charts show: the period's months, and at least the
    twelve up to its last month, so that "this month" still shows a year's trend."""
    last = period.last_day.replace(day=1)
    month = min(period.first_day.replace(day=1), add_months(last, 1 - TREND_MONTHS))
    months = []
    while month <= last:
        months.append(month)
        month = add_months(month, 1)
    return months


@dataclass
class Table:
    """One table of the report, as the page, the printed report and its CSV show it."""

    slug: str
    title: str
    header: list[str]
    rows: list[list] = field(default_factory=list)
    page_limit: int | None = None  # the page shows this many rows at most; the CSV all

    @property
    def page_rows(self) -> list[list[tuple[str, object]]]:
        """The rows the page shows, each cell with its column's header (a phone shows it as
        the cell's label)."""
        return [list(zip(self.header, row, strict=True)) for row in self.rows[: self.page_limit]]

    @property
    def cut_on_page(self) -> bool:
        return self.page_limit is not None and len(self.rows) > self.page_limit

    def column(self, index: int) -> list:
        return [row[index] for row in self.rows]

    def row(self, label: str) -> list:
        """The row whose first cell is `label` (for tests and summaries)."""
        return next(row for row in self.rows if row[0] == label)


@dataclass
class Chart:
    """A chart of a trend table: its data goes to the page as JSON, and the table is shown
    beside it as the chart's data in text."""

    slug: str
    title: str
    kind: str  # "bar" (stacked) or "line"
    y_label: str
    summary: str  # the text alternative
    table: Table
    series_columns: list[int]  # the table's columns drawn, one series each
    y_max: int | None = None

    def data(self) -> dict:
        return {
            "type": self.kind,
            "labels": self.table.column(0),
            "yLabel": self.y_label,
            "yMax": self.y_max,
            "datasets": [
                {
                    "label": self.table.header[index],
                    "data": [_number(value) for value in self.table.column(index)],
                }
                for index in self.series_columns
            ],
        }


@dataclass
class TeamReport:
    team: Team
    period: Period
    today: date
    months: list[date]
    visits: Table
    escalations_by_cause: Table
    escalations_by_ending: Table
    escalations_by_step: Table
    response_times: Table
    notifications: Table
    assessments: Table
    rota_gaps: Table
    rota_gap_days: Table
    escalations_by_month: Table
    response_times_by_month: Table
    youth_justice: Table | None = None
    compliance_by_rule: Table | None = None
    compliance_by_month: Table | None = None
    charts: dict[str, Chart] = field(default_factory=dict)

    @property
    def escalation_count(self) -> int:
        return sum(self.escalations_by_cause.column(1))

    def tables(self) -> dict[str, Table]:
        found = [
            self.visits,
            self.escalations_by_cause,
            self.escalations_by_ending,
            self.escalations_by_step,
            self.response_times,
            self.notifications,
            self.assessments,
            self.youth_justice,
            self.compliance_by_rule,
            self.compliance_by_month,
            self.rota_gaps,
            self.rota_gap_days,
            self.escalations_by_month,
            self.response_times_by_month,
        ]
        return {table.slug: table for table in found if table is not None}


def team_report(*, team: Team, period: Period, today: date) -> TeamReport:
    """The whole report: 6 queries, and 5 more for a youth justice team."""
    months = trend_months(period)
    escalations = _escalation_rows(team=team, start=london_day_bounds(months[0])[0], period=period)
    in_period = [row for row in escalations if row.opened_at >= period.start]
    visits = _visit_figures(team=team, period=period)
    rota_gaps, rota_gap_days = _rota_gaps(team=team, period=period, today=today)
    report = TeamReport(
        team=team,
        period=period,
        today=today,
        months=months,
        visits=_visits_table(visits),
        escalations_by_cause=_by_cause(in_period),
        escalations_by_ending=_by_ending(in_period),
        escalations_by_step=_by_step(in_period),
        response_times=_response_times(in_period),
        notifications=_notifications(team=team, period=period),
        assessments=_assessments(
            team=team, period=period, today=today, unassessed=visits["unassessed"]
        ),
        rota_gaps=rota_gaps,
        rota_gap_days=rota_gap_days,
        escalations_by_month=_escalations_by_month(escalations, months),
        response_times_by_month=_response_times_by_month(escalations, months),
    )
    if team.kind == TeamKind.YOUTH_JUSTICE:
        _add_youth_justice(report)
    report.charts = _charts(report)
    return report


# Visits


def _visit_figures(*, team: Team, period: Period) -> dict[str, int]:
    had_assessment = Exists(
        RiskAssessment.objects.filter(
            household=OuterRef("household"),
            status__in=[AssessmentStatus.SIGNED_OFF, AssessmentStatus.SUPERSEDED],
            decided_at__lte=OuterRef("starts_at"),
        )
    )
    visits = Visit.objects.filter(
        team=team, starts_at__gte=period.start, starts_at__lt=period.end
    ).alias(household_flagged=flagged(OuterRef("household")), had_assessment=had_assessment)
    cancelled = Q(status=VisitStatus.CANCELLED)
    unscheduled = Q(kind=VisitKind.UNSCHEDULED)
    return visits.aggregate(
        booked=Count("pk"),
        monitored=Count("pk", filter=MONITORED & ~cancelled),
        cancelled=Count("pk", filter=cancelled),
        terminated=Count("pk", filter=Q(status=VisitStatus.TERMINATED)),
        unscheduled=Count("pk", filter=unscheduled),
        go_ahead=Count("pk", filter=unscheduled & Q(risk_recheck_confirmed_at__isnull=False)),
        # As visits.services.visit_go_ahead_refuse words it.
        refused=Count("pk", filter=unscheduled & cancelled & Q(status_reason__startswith="No go")),
        unassessed=Count("household", distinct=True, filter=Q(had_assessment=False) & ~cancelled),
    )


def _visits_table(figures: dict[str, int]) -> Table:
    table = Table("visits", "Visits", ["Visits starting in the period", "Number"])
    table.rows = [
        ["Booked", figures["booked"]],
        ["Monitored by the escalation ladder (not cancelled)", figures["monitored"]],
        ["Cancelled", figures["cancelled"]],
        ["Ended early", figures["terminated"]],
        ["Unscheduled", figures["unscheduled"]],
        ["Unscheduled: go-ahead given", figures["go_ahead"]],
        ["Unscheduled: go-ahead refused", figures["refused"]],
    ]
    return table


# Escalations


@dataclass(frozen=True)
class EscalationRow:
    """What the report needs of one escalation: its kind, its end and its timestamps."""

    opened_at: datetime
    due_at: datetime
    cause: str
    urgent: bool
    duress: str
    out_of_hours: bool
    step: int
    closed_at: datetime | None
    closed_by: str
    outcome: str
    acknowledged_at: datetime | None
    first_attempt_at: datetime | None
    first_reached_at: datetime | None

    @property
    def month(self) -> date:
        return self.opened_at.astimezone(LONDON).date().replace(day=1)

    @property
    def kind(self) -> str:
        """What raised it, the most serious first: a silent alarm, "I need help", or a missed
        deadline (of a visit, or of an interval phone-in)."""
        if self.duress:
            return "duress"
        return "help" if self.urgent else self.cause

    @property
    def ending(self) -> str:
        if self.closed_at is None:
            return "open"
        if self.closed_by == ClosedBy.MANAGER and self.outcome:
            return f"manager:{self.outcome}"
        return self.closed_by

    @property
    def reached_at(self) -> datetime | None:
        """When the office first had word of the worker: a call that reached them, or the
        ladder closing on the worker's own word (or a manager's finding them)."""
        moments = [self.first_reached_at] if self.first_reached_at else []
        if self.closed_at and (
            self.closed_by in WORKERS_WORD
            or (self.closed_by == ClosedBy.MANAGER and self.outcome in WORKER_FOUND)
        ):
            moments.append(self.closed_at)
        return min(moments, default=None)

    def waited(self, moment: datetime | None) -> float | None:
        """Seconds from the deadline to `moment`."""
        return None if moment is None else (moment - self.due_at).total_seconds()


WORKERS_WORD = {ClosedBy.CHECK_IN, ClosedBy.PHONE_IN, ClosedBy.REACHED_SAFE, ClosedBy.EXTENDED}
WORKER_FOUND = {Outcome.WORKER_SAFE, Outcome.WORKER_FOUND}
KINDS = [
    ("visit", Cause.VISIT_DEADLINE.label),
    ("interval", "Missed phone-in"),
    ("help", "“I need help”"),
    ("duress", "Silent alarm (duress)"),
]
ENDINGS = [
    *((value, label) for value, label in ClosedBy.choices if value != ClosedBy.MANAGER),
    *(
        (f"manager:{value}", f"Resolved by a manager: {label.lower()}")
        for value, label in Outcome.choices
    ),
    (ClosedBy.MANAGER.value, "Resolved by a manager, no outcome recorded"),
    ("open", "Still open"),
]
MEASURES = [
    ("First contact attempt", lambda row: row.first_attempt_at),
    ("Worker reached", lambda row: row.reached_at),
    ("Manager acknowledged", lambda row: row.acknowledged_at),
]


def _escalation_rows(*, team: Team, start: datetime, period: Period) -> list[EscalationRow]:
    """Every escalation opened from `start` to the period's end: one query, timestamps only."""
    attempts = ContactAttempt.objects.filter(escalation=OuterRef("pk")).order_by("at", "pk")
    reached = attempts.filter(
        result__in=[AttemptResult.REACHED_SAFE, AttemptResult.REACHED_NEEDS_HELP]
    )
    rows = (
        Escalation.objects.filter(team=team, opened_at__gte=start, opened_at__lt=period.end)
        .annotate(
            first_attempt_at=Subquery(attempts.values("at")[:1]),
            first_reached_at=Subquery(reached.values("at")[:1]),
        )
        .order_by()
        .values_list(*EscalationRow.__dataclass_fields__)
    )
    return [EscalationRow(*row) for row in rows]


def _by_cause(rows: list[EscalationRow]) -> Table:
    counts = Counter(row.kind for row in rows)
    out_of_hours = Counter(row.kind for row in rows if row.out_of_hours)
    table = Table(
        "escalations-by-cause",
        "Escalations by cause",
        ["Cause", "Escalations", "Of which out of hours"],
    )
    table.rows = [[label, counts[kind], out_of_hours[kind]] for kind, label in KINDS]
    return table


def _by_ending(rows: list[EscalationRow]) -> Table:
    counts = Counter(row.ending for row in rows)
    table = Table("escalations-by-ending", "How escalations ended", ["How it ended", "Escalations"])
    table.rows = [[label, counts[ending]] for ending, label in ENDINGS]
    return table


def _by_step(rows: list[EscalationRow]) -> Table:
    counts = Counter(row.step for row in rows)
    table = Table(
        "escalations-by-step",
        "How far up the ladder escalations went",
        ["Furthest step", "Escalations"],
    )
    table.rows = [[label, counts[step]] for step, label in Step.choices]
    return table


def percentile(values: list[float], fraction: float) -> float | None:
    """The percentile by linear interpolation between the closest ranks, as PostgreSQL's
    percentile_cont: 0.5 is the median. None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def minutes(seconds: float | None) -> str:
    """Seconds as minutes with one decimal ("4.5"), or "–" when there is nothing to show."""
    return NOTHING if seconds is None else f"{seconds / 60:.1f}"


def _waits(rows: list[EscalationRow], moment_of) -> list[float]:
    return [wait for row in rows if (wait := row.waited(moment_of(row))) is not None]


def _response_times(rows: list[EscalationRow]) -> Table:
    table = Table(
        "response-times",
        "Response times from the missed deadline",
        ["From the deadline to", "Escalations", "Median (minutes)", "90th percentile (minutes)"],
    )
    for label, moment_of in MEASURES:
        waits = _waits(rows, moment_of)
        table.rows.append(
            [label, len(waits), minutes(percentile(waits, 0.5)), minutes(percentile(waits, 0.9))]
        )
    return table


def _escalations_by_month(rows: list[EscalationRow], months: list[date]) -> Table:
    counts = defaultdict(Counter)
    for row in rows:
        counts[row.month][row.kind] += 1
    table = Table(
        "escalations-by-month",
        "Escalations per month, by cause",
        ["Month", *(label for _, label in KINDS), "All"],
    )
    for month in months:
        by_kind = [counts[month][kind] for kind, _ in KINDS]
        table.rows.append([_month_label(month), *by_kind, sum(by_kind)])
    return table


def _response_times_by_month(rows: list[EscalationRow], months: list[date]) -> Table:
    by_month = defaultdict(list)
    for row in rows:
        by_month[row.month].append(row)
    table = Table(
        "response-times-by-month",
        "Median response time per month (minutes from the missed deadline)",
        ["Month", *(label for label, _ in MEASURES)],
    )
    for month in months:
        medians = [
            minutes(percentile(_waits(by_month[month], moment_of), 0.5))
            for _, moment_of in MEASURES
        ]
        table.rows.append([_month_label(month), *medians])
    return table


# Notifications


def _notifications(*, team: Team, period: Period) -> Table:
    rows = (
        Notification.objects.filter(
            Q(escalation__team=team) | Q(handover__team=team),
            created_at__gte=period.start,
            created_at__lt=period.end,
        )
        .order_by()
        .values("channel")
        .annotate(
            total=Count("pk"),
            sent=Count("pk", filter=Q(status=DeliveryStatus.SENT)),
            failed=Count("pk", filter=Q(status=DeliveryStatus.FAILED)),
            retried=Count("pk", filter=Q(attempts__gt=1)),
            waiting=Count(
                "pk", filter=Q(status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING])
            ),
        )
    )
    found = {row["channel"]: row for row in rows}
    table = Table(
        "notifications",
        "Notifications",
        [
            "Channel",
            "Sent",
            "Failed (gave up)",
            "Retried (more than one try)",
            "Still waiting",
            "All",
        ],
    )
    names = ["sent", "failed", "retried", "waiting", "total"]
    for channel, label in NotificationChannel.choices:
        row = found.get(channel, {})
        table.rows.append([label, *(row.get(name, 0) for name in names)])
    return table


# Risk assessments


def _assessments(*, team: Team, period: Period, today: date, unassessed: int) -> Table:
    signed_off = AssessmentEvent.objects.filter(
        assessment__household__team=team,
        to_status=AssessmentStatus.SIGNED_OFF,
        at__gte=period.start,
        at__lt=period.end,
    ).count()
    now = RiskAssessment.objects.filter(
        household__team=team, household__status=HouseholdStatus.ACTIVE
    ).aggregate(
        awaiting=Count("pk", filter=Q(status=AssessmentStatus.SUBMITTED)),
        overdue=Count("pk", filter=Q(status=AssessmentStatus.SIGNED_OFF, review_by__lt=today)),
    )
    table = Table("risk-assessments", "Risk assessments", ["Risk assessments", "Number"])
    table.rows = [
        ["Signed off in the period", signed_off],
        ["Awaiting sign-off today", now["awaiting"]],
        ["Review overdue today (active households)", now["overdue"]],
        ["Households visited in the period with no signed-off assessment then", unassessed],
    ]
    return table


# Youth justice visit frequency


def _add_youth_justice(report: TeamReport) -> None:
    """The share of visit requirements met on time, by rule and by month, with the rules of
    visits.frequency_rules as visits.compliance applies them. A requirement counts once its
    deadline has passed (or it was met on time); one suspended by a variation does not."""
    results = visit_selectors.team_compliance_history(
        team=report.team,
        first_day=report.months[0],
        last_day=report.period.last_day,
        today=report.today,
    )
    due = [
        requirement
        for result in results
        for requirement in result.requirements
        if _counts(requirement, report.today)
    ]
    period = report.period
    in_period = [r for r in due if period.first_day <= r.due_on <= period.last_day]
    report.compliance_by_rule = _share_table(
        "compliance-by-rule",
        "Youth justice visit requirements due in the period, by rule",
        "Requirement",
        _grouped(in_period, key=lambda r: r.reason),
    )
    by_month = _grouped(due, key=lambda r: r.due_on.replace(day=1))
    report.compliance_by_month = _share_table(
        "compliance-by-month",
        "Youth justice visit requirements met on time, per month",
        "Month",
        {_month_label(month): by_month.get(month, []) for month in report.months},
    )
    met = sum(_on_time(r) for r in in_period)
    reviews_due = sum(result.variation_review_due and result.case.is_open for result in results)
    summary = Table("youth-justice", "Youth justice visit frequency", ["Figure", "Number"])
    summary.rows = [
        ["Requirements due in the period", len(in_period)],
        ["Met on time", met],
        ["Share met on time", _share(met, len(in_period))],
        ["Variations due for review today", reviews_due],
    ]
    report.youth_justice = summary


def _counts(requirement: Requirement, today: date) -> bool:
    if requirement.due_on is None or requirement.status == Status.SUSPENDED:
        return False
    return _on_time(requirement) or requirement.due_on < today


def _on_time(requirement: Requirement) -> bool:
    return requirement.met_by is not None and requirement.met_by.day <= requirement.due_on


def _grouped(requirements, *, key) -> dict:
    groups = defaultdict(list)
    for requirement in requirements:
        groups[key(requirement)].append(requirement)
    return dict(sorted(groups.items()))


def _share_table(slug, title, first_column, groups: dict) -> Table:
    table = Table(slug, title, [first_column, "Due", "Met on time", "Share met on time"])
    for label, requirements in groups.items():
        met = sum(_on_time(r) for r in requirements)
        table.rows.append([label, len(requirements), met, _share(met, len(requirements))])
    return table


def _share(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%" if whole else NOTHING


# The rota


ROTA_DUTIES = [
    "Designated person",
    "Designated manager",
    "Backup manager",
    "Out-of-hours manager",
]


def _rota_gaps(*, team: Team, period: Period, today: date) -> tuple[Table, Table]:
    """Each day of the period up to today with a duty nobody was put on (a day with no rota at
    all has every duty empty)."""
    last_day = min(period.last_day, today)
    rows = (
        DutyRota.objects.filter(team=team, day__gte=period.first_day, day__lte=last_day)
        .order_by()
        .annotate(designated=Count("designated_persons"))
        .values_list(
            "day",
            "designated",
            "designated_manager_id",
            "backup_manager_id",
            "out_of_hours_manager_id",
        )
    )
    filled = {day: people for day, *people in rows}
    days = Table(
        "rota-gap-days",
        "Each day with a duty left empty",
        ["Day", "Duties left empty"],
        page_limit=ROTA_GAP_DAYS_SHOWN,
    )
    empty_by_duty = Counter()
    day, day_count = period.first_day, 0
    while day <= last_day:
        day_count += 1
        people = filled.get(day, [0, None, None, None])
        empty = [duty for duty, person in zip(ROTA_DUTIES, people, strict=True) if not person]
        empty_by_duty.update(empty)
        if empty:
            days.rows.append([_long_day(day, weekday=True), ", ".join(empty)])
        day += timedelta(days=1)
    summary = Table(
        "rota-gaps",
        "Days with a duty left empty",
        ["Duty", f"Days left empty (of {day_count} up to today)"],
    )
    summary.rows = [[duty, empty_by_duty[duty]] for duty in ROTA_DUTIES]
    summary.rows.append(["Any duty", len(days.rows)])
    return summary, days


# Charts


def _charts(report: TeamReport) -> dict[str, Chart]:
    months = report.months
    span = f"{_month_label(months[0])} to {_month_label(months[-1])}"
    by_month = report.escalations_by_month
    charts = {
        "escalations": Chart(
            slug="escalations-by-month",
            title="Escalations per month, by cause",
            kind="bar",
            y_label="Escalations",
            summary=f"A stacked bar chart of escalations per month from {span}: "
            + _busiest_month(by_month)
            + " The table with it gives each month by cause.",
            table=by_month,
            series_columns=list(range(1, len(KINDS) + 1)),
        ),
        "response_times": Chart(
            slug="response-times-by-month",
            title="Median response time per month",
            kind="line",
            y_label="Minutes from the missed deadline",
            summary=(
                f"A line chart of the median minutes from a missed deadline to the first "
                f"contact attempt, to the worker being reached and to a manager's "
                f"acknowledgement, per month from {span}. "
                + _latest_medians(report.response_times_by_month)
                + " The table with it gives every month."
            ),
            table=report.response_times_by_month,
            series_columns=list(range(1, len(MEASURES) + 1)),
        ),
    }
    if report.compliance_by_month is not None:
        table = report.compliance_by_month
        charts["compliance"] = Chart(
            slug="compliance-by-month",
            title="Youth justice visit requirements met on time, per month",
            kind="bar",
            y_label="Share met on time (%)",
            summary=(
                f"A bar chart of the share of youth justice visit requirements met on time, "
                f"by the month they were due, from {span}: "
                f"{_share(sum(table.column(2)), sum(table.column(1)))} over those months. "
                "The table with it gives each month's numbers."
            ),
            table=table,
            series_columns=[3],
            y_max=100,
        )
    return charts


def _busiest_month(table: Table) -> str:
    totals = table.column(len(table.header) - 1)
    if not sum(totals):
        return "none."
    busiest = max(range(len(totals)), key=lambda index: totals[index])
    return f"{sum(totals)} in all, the most in {table.rows[busiest][0]} ({totals[busiest]})."


def _latest_medians(table: Table) -> str:
    """The medians of the last month with any, as a sentence."""
    for row in reversed(table.rows):
        values = dict(zip(table.header[1:], row[1:], strict=True))
        known = {label: value for label, value in values.items() if value != NOTHING}
        if known:
            said = ", ".join(f"{label.lower()} {value} min" for label, value in known.items())
            return f"In {row[0]}: {said}."
    return "No escalation in these months."


def _number(value):
    """A table cell as a chart value: "4.5" → 4.5, "83%" → 83, "–" → None (a gap)."""
    if isinstance(value, int | float):
        return value
    text = str(value).rstrip("%")
    try:
        return float(text)
    except ValueError:
        return None


def _month_label(month: date) -> str:
    return f"{month:%b %Y}"


def _long_day(day: date, *, weekday: bool = False) -> str:
    text = f"{day.day} {day:%B %Y}"
    return f"{day:%a} {text}" if weekday else text
