"""Every write and rule for visits. Forms and the JSON API both call these, so rules live once.

A booking check returns errors, which refuse the booking, and warnings, which the person booking
should see but which do not stop it (the guidance asks for judgement there, not a block).
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import DurationField, Exists, F, OuterRef, Q, Value
from django.utils import timezone
from django.utils.module_loading import import_string

from homevisits.models import Role, Team, TeamKind, TeamPolicy
from homevisits.people import person_name
from homevisits.phone import normalise_uk_phone
from homevisits.selectors import has_capability, role_in
from homevisits.sql import update_then_insert
from homevisits.tokens import new_secret_token
from riskassess.models import AssessmentStatus, Household, HouseholdStatus
from riskassess.selectors import is_flagged, requires_second_person

from .frequency_rules import orders_in_table
from .models import (
    FINISHED_STATUSES,
    OPEN_STATUSES,
    ORDERS_WITHOUT_RISK_LEVELS,
    AddressChange,
    AfterVisitPlan,
    AssetPlusReview,
    CalendarFeed,
    OrderType,
    SupervisedCase,
    Variation,
    VariationKind,
    Visit,
    VisitChange,
    VisitKind,
    VisitStatus,
)
from .outlook import visit_outlook_events_follow

MAX_DURATION = timedelta(hours=12)
PAST_START_ALLOWANCE = timedelta(minutes=15)
CONTACT_STATUSES = (VisitStatus.COMPLETED, VisitStatus.TERMINATED)
# Relations the services set themselves: full_clean need not look them up.
NOT_CLEANED = ("team", "household", "lead_worker", "booked_by", "second_person_overridden_by")


@dataclass
class VisitDetails:
    """What the person booking says about a visit."""

    household: Household
    lead_worker: object
    purpose: str
    starts_at: datetime
    ends_at: datetime
    kind: str = VisitKind.PLANNED
    announced: bool = True
    accompanying: list = field(default_factory=list)
    after_plan: str = ""
    return_by: datetime | None = None
    contact_number: str = ""
    venue: str = ""
    concern_raised: bool = False
    concern_reason: str = ""
    risk_recheck_confirmed: bool = False
    hazards_acknowledged: bool = False
    second_person_override_reason: str = ""


@dataclass
class BookingCheck:
    errors: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    high_risk: bool = False
    # The manager's override that lets the visit go without a second person: None when no
    # override is needed, the standing reason otherwise; `override_is_new` when recorded now.
    second_person_override: str | None = None
    override_is_new: bool = False

    def refuse(self, field_name: str, message: str) -> None:
        self.errors.setdefault(field_name, []).append(message)


@dataclass(frozen=True)
class BookingResult:
    visit: Visit
    warnings: list


def can_book_for_others(*, user, team: Team) -> bool:
    return role_in(user=user, team=team) in (Role.DESIGNATED_PERSON, Role.MANAGER)


def may_change(*, user, visit: Visit) -> bool:
    """Staff on the visit, and the team's designated persons and managers, may change it."""
    going = user.pk == visit.lead_worker_id or visit.accompanying.filter(pk=user.pk).exists()
    return going or has_capability(user=user, team=visit.team, capability="watch_board")


def _require_may_change(actor, visit: Visit) -> None:
    if not may_change(user=actor, visit=visit):
        raise PermissionDenied(
            "Only the staff on this visit, the designated person or a manager can change it."
        )


def last_contact_at(*, household: Household, before: datetime) -> datetime | None:
    """When staff last actually saw the household (a completed or cut-short visit)."""
    return (
        Visit.objects.filter(household=household, status__in=CONTACT_STATUSES, starts_at__lt=before)
        .order_by("-starts_at")
        .values_list("starts_at", flat=True)
        .first()
    )


def booking_check(*, details: VisitDetails, actor, now: datetime, visit: Visit | None = None):
    """All of the guidance's booking rules, for a new visit or a change to `visit`."""
    check = BookingCheck()
    household = details.household
    team = household.team
    _check_people(check, details, team, actor)
    _check_times(check, details, now, visit)
    _check_household(check, household, details, now)
    check.high_risk = details.concern_raised or is_flagged(household=household)
    _check_high_risk(check, details, household)
    if team.policy.pairs_only and len(_staff(details)) < 2:
        check.refuse("accompanying", "This team visits in pairs: add a second member of staff.")
    _check_second_person(check, details, actor, team, visit)
    if details.contact_number:
        try:
            normalise_uk_phone(details.contact_number)
        except ValidationError as error:
            check.errors.setdefault("contact_number", []).extend(error.messages)
    if details.concern_raised and not details.concern_reason.strip():
        check.refuse("concern_reason", "Say briefly what the concern is.")
    _check_go_ahead_confirmer(check, details, actor, team, visit)
    _warn_about_overlaps(check, details, visit)
    return check


# The managers who sign off risk assessments are the ones who may depart from them.
OVERRIDE_CAPABILITY = "sign_off"


def may_override_second_person(*, user, team: Team) -> bool:
    return has_capability(user=user, team=team, capability=OVERRIDE_CAPABILITY)


def _check_second_person(check, details, actor, team, visit) -> None:
    """A lone visit where the signed-off assessment says a second person attends goes ahead
    only on a manager's override with a reason. An override already on the visit stands
    through later changes; a new or rewritten one is recorded, by a manager only."""
    reason = details.second_person_override_reason.strip()
    standing = visit.second_person_override_reason if visit is not None else ""
    is_new = bool(reason) and reason != standing
    if is_new and not may_override_second_person(user=actor, team=team):
        check.refuse(
            "second_person_override_reason",
            "Only a manager of this team can let a visit go without the second person that "
            "the risk assessment asks for.",
        )
        return
    if len(_staff(details)) >= 2 or not requires_second_person(household=details.household):
        return
    if not reason:
        check.refuse(
            "accompanying",
            "The household's risk assessment says a second person attends: add a second member "
            "of staff, or ask a manager to record an override with the reason.",
        )
        return
    check.second_person_override = reason
    check.override_is_new = is_new


def _check_go_ahead_confirmer(check, details, actor, team, visit) -> None:
    already_confirmed = visit is not None and visit.risk_recheck_confirmed_at is not None
    may_confirm = has_capability(user=actor, team=team, capability="watch_board")
    if details.risk_recheck_confirmed and not already_confirmed and not may_confirm:
        check.refuse(
            "risk_recheck_confirmed",
            "Only the designated person or a manager can confirm the risk information.",
        )


def _staff(details: VisitDetails) -> set:
    return {details.lead_worker.pk, *(person.pk for person in details.accompanying)}


def _check_people(check, details, team, actor) -> None:
    if not has_capability(user=actor, team=team, capability="visit"):
        check.refuse("household", "Choose a household from one of your teams.")
        return
    lead = details.lead_worker
    if not has_capability(user=lead, team=team, capability="visit"):
        check.refuse("lead_worker", "The lead worker must be a member of the household's team.")
    elif lead.pk != actor.pk and not can_book_for_others(user=actor, team=team):
        check.refuse("lead_worker", "Only the designated person or a manager can book for others.")
    for person in details.accompanying:
        if role_in(user=person, team=team) is None:
            check.refuse("accompanying", f"{person_name(person)} is not in this team.")


def _check_times(check, details, now, visit) -> None:
    starts_at, ends_at = details.starts_at, details.ends_at
    if ends_at <= starts_at:
        check.refuse("ends_at", "The visit must end after it starts.")
    elif ends_at - starts_at > MAX_DURATION:
        check.refuse("ends_at", "A visit can last at most 12 hours.")
    start_changed = visit is None or visit.starts_at != starts_at
    is_planned = details.kind != VisitKind.UNSCHEDULED
    if is_planned and start_changed and starts_at < now - PAST_START_ALLOWANCE:
        check.refuse(
            "starts_at",
            "A planned visit cannot start more than 15 minutes ago. Record an unscheduled "
            "visit instead if you are already there.",
        )
    if details.after_plan == AfterVisitPlan.RETURN_TO_OFFICE:
        if details.return_by is None:
            check.refuse("return_by", "Give the time you expect to be back at the office.")
        elif details.return_by < ends_at:
            check.refuse("return_by", "The return time must be after the visit ends.")


def _check_household(check, household, details, now) -> None:
    if household.status != HouseholdStatus.ACTIVE:
        check.refuse("household", "This household is closed. Reopen it before booking a visit.")
        return
    statuses = set(household.assessments.values_list("status", flat=True))
    if not statuses & {AssessmentStatus.SIGNED_OFF, AssessmentStatus.SUBMITTED}:
        check.refuse(
            "household",
            "This household has no recorded risk assessment. Record one (and submit it for "
            "sign-off) before booking a visit.",
        )
        return
    if AssessmentStatus.SIGNED_OFF not in statuses:
        check.warnings.append(
            "The risk assessment is still awaiting a manager's sign-off: follow it as written."
        )
    policy = household.team.policy
    last_contact = last_contact_at(household=household, before=details.starts_at)
    stale_after = timedelta(days=policy.risk_info_stale_after_days)
    is_stale = last_contact is not None and details.starts_at - last_contact > stale_after
    if details.kind == VisitKind.UNSCHEDULED:
        if last_contact is None:
            check.refuse(
                "kind",
                "Nobody has visited this household yet: a first visit cannot be unscheduled.",
            )
        elif not details.risk_recheck_confirmed:
            check.warnings.append(
                "Wait for the office's go-ahead before you go in: the designated person checks "
                "that the risk information has not changed. Your Now page shows the answer."
            )
    elif is_stale:
        check.warnings.append(
            f"Nobody has seen this household for over {policy.risk_info_stale_after_days} days: "
            "check that the safety information is still current."
        )
    current = household.assessments.filter(status=AssessmentStatus.SIGNED_OFF).first()
    if current and current.review_by and current.review_by < timezone.localdate(now):
        check.warnings.append("The household's risk assessment is overdue for review.")


def _check_high_risk(check, details, household) -> None:
    if not check.high_risk:
        return
    if not (details.contact_number or _worker_mobile(details.lead_worker)):
        check.refuse("contact_number", "A high-risk visit needs a contact number.")
    if not details.after_plan:
        check.refuse(
            "after_plan", "A high-risk visit needs a plan for afterwards, so that it is tracked."
        )
    if is_flagged(household=household) and not details.hazards_acknowledged:
        check.refuse(
            "hazards_acknowledged",
            "Read the hazards and control measures, then confirm that you will follow them.",
        )


def _warn_about_overlaps(check, details, visit) -> None:
    staff = _staff(details)
    overlapping = (
        Visit.objects.filter(status__in=OPEN_STATUSES)
        .filter(starts_at__lt=details.ends_at, ends_at__gt=details.starts_at)
        .filter(Q(lead_worker__in=staff) | Q(accompanying__in=staff))
        .exclude(pk=visit.pk if visit else None)
        .select_related("household")
        .distinct()
    )
    for other in overlapping:
        local = timezone.localtime(other.starts_at)
        check.warnings.append(
            f"This overlaps another visit at {local:%H:%M} ({other.household.display_name})."
        )


def _worker_mobile(user) -> str:
    profile = getattr(user, "staff_profile", None)
    return profile.mobile if profile else ""


def _raise_if_refused(check: BookingCheck) -> None:
    if check.errors:
        raise ValidationError(check.errors)


def _apply_second_person_override(visit: Visit, check: BookingCheck, actor, now) -> str:
    """Sets or clears the override; returns what the visit's history should say, if anything."""
    if check.second_person_override is None:
        had_override = bool(visit.second_person_override_reason)
        visit.second_person_override_reason = ""
        visit.second_person_overridden_by = None
        visit.second_person_overridden_at = None
        return "Second person override no longer needed" if had_override else ""
    if not check.override_is_new:
        return ""
    visit.second_person_override_reason = check.second_person_override
    visit.second_person_overridden_by = actor
    visit.second_person_overridden_at = now
    return f"Going without a second person, agreed by a manager: {check.second_person_override}"


def _apply(visit: Visit, details: VisitDetails, now: datetime) -> None:
    visit.household = details.household
    visit.team = details.household.team
    for name in (
        "lead_worker",
        "purpose",
        "kind",
        "announced",
        "starts_at",
        "ends_at",
        "after_plan",
        "venue",
        "concern_raised",
        "concern_reason",
    ):
        setattr(visit, name, getattr(details, name))
    visit.return_by = (
        details.return_by if details.after_plan == AfterVisitPlan.RETURN_TO_OFFICE else None
    )
    _set_deadline(visit, visit.return_by or visit.ends_at, grace=visit.team.policy.grace_period)
    visit.concern_reason = details.concern_reason if details.concern_raised else ""
    visit.contact_number = (
        normalise_uk_phone(details.contact_number)
        if details.contact_number
        else _worker_mobile(details.lead_worker)
    )
    if details.risk_recheck_confirmed and visit.risk_recheck_confirmed_at is None:
        visit.risk_recheck_confirmed_at = now
    if details.hazards_acknowledged and visit.hazards_acknowledged_at is None:
        visit.hazards_acknowledged_at = now


def _set_deadline(visit: Visit, due_at: datetime, *, grace: timedelta) -> None:
    for name, value in _deadline(due_at, grace=grace).items():
        setattr(visit, name, value)


def _deadline(due_at: datetime, *, grace: timedelta) -> dict:
    """The deadline tracking watches, and when its ladder starts: every change of either goes
    through here, so the sweep's stored alert time never drifts from the deadline."""
    return {"due_at": due_at, "alert_after": due_at + grace}


@transaction.atomic
def visit_alerts_follow_policy(*, policy: TeamPolicy) -> int:
    """The team's grace period changed: move the alert time of every visit still out.
    homevisits' team_policy_update calls this (settings.TEAM_POLICY_FOLLOWERS)."""
    return Visit.objects.filter(
        team_id=policy.team_id, status__in=OPEN_STATUSES, left_at__isnull=True
    ).update(alert_after=F("due_at") + Value(policy.grace_period, DurationField()))


@transaction.atomic
def visit_alert_postpone(*, visit: Visit, until: datetime) -> None:
    """Tracking could not start the visit's ladder: it tries again at `until`, not on every
    sweep ahead of the visits it can start. The deadline itself stays as it is."""
    Visit.objects.filter(pk=visit.pk).update(alert_after=until)


@transaction.atomic
def visit_book(*, details: VisitDetails, booked_by, now: datetime) -> BookingResult:
    check = booking_check(details=details, actor=booked_by, now=now)
    _raise_if_refused(check)
    visit = Visit(booked_by=booked_by)
    _apply(visit, details, now)
    override_note = _apply_second_person_override(visit, check, booked_by, now)
    visit.full_clean(exclude=[*NOT_CLEANED])
    visit.save()
    visit.accompanying.set(details.accompanying)
    on_behalf = "" if details.lead_worker == booked_by else f" for {details.lead_worker}"
    _log(visit, booked_by, now, f"Booked{on_behalf}")
    if override_note:
        _log(visit, booked_by, now, override_note)
    visit_outlook_events_follow(visit=visit, now=now)
    visit_followers_update(visit=visit, staff={person.pk for person in details.accompanying})
    return BookingResult(visit=visit, warnings=check.warnings)


TRACKED_FIELDS = {
    "starts_at": "start",
    "ends_at": "end",
    "purpose": "purpose",
    "after_plan": "plan afterwards",
    "return_by": "return time",
    "contact_number": "contact number",
    "venue": "venue",
    "concern_raised": "concern",
    "lead_worker_id": "lead worker",
    "kind": "kind",
    "announced": "announced",
}


@transaction.atomic
def visit_update(*, visit: Visit, details: VisitDetails, actor, now: datetime) -> BookingResult:
    _require_may_change(actor, visit)
    visit = Visit.objects.select_for_update().get(pk=visit.pk)
    if not visit.is_open:
        raise ValidationError(
            f"This visit is {visit.get_status_display().lower()}: it cannot change."
        )
    if details.household.pk != visit.household_id:
        raise ValidationError({"household": "A visit cannot move to another household."})
    check = booking_check(details=details, actor=actor, now=now, visit=visit)
    _raise_if_refused(check)
    before = {name: getattr(visit, name) for name in TRACKED_FIELDS}
    staff_before = set(visit.accompanying.values_list("pk", flat=True))
    day_before = (staff_before | {visit.lead_worker_id}, timezone.localdate(visit.starts_at))
    _apply(visit, details, now)
    override_note = _apply_second_person_override(visit, check, actor, now)
    visit.full_clean(exclude=[*NOT_CLEANED])
    changed = [
        label for name, label in TRACKED_FIELDS.items() if getattr(visit, name) != before[name]
    ]
    if staff_before != {person.pk for person in details.accompanying}:
        changed.append("staff")
    if changed:
        visit.sequence += 1
    if changed or override_note:
        visit.save()
        visit.accompanying.set(details.accompanying)
    if changed:
        _log(visit, actor, now, "Changed " + ", ".join(changed))
        visit_outlook_events_follow(visit=visit, now=now)
        visit_followers_update(
            visit=visit, staff={person.pk for person in details.accompanying}, before=day_before
        )
    if override_note:
        _log(visit, actor, now, override_note)
    return BookingResult(visit=visit, warnings=check.warnings)


@transaction.atomic
def visit_cancel(*, visit: Visit, actor, reason: str, now: datetime) -> Visit:
    if not reason.strip():
        raise ValidationError({"reason": "Give the reason for cancelling."})
    _require_may_change(actor, visit)
    visit = Visit.objects.select_for_update().get(pk=visit.pk)
    if visit.status != VisitStatus.BOOKED:
        raise ValidationError(
            f"Only a booked visit can be cancelled; this one is "
            f"{visit.get_status_display().lower()}."
        )
    visit.status = VisitStatus.CANCELLED
    visit.status_reason = reason.strip()
    visit.sequence += 1
    visit.full_clean(exclude=[*NOT_CLEANED])
    visit.save()
    _log(visit, actor, now, f"Cancelled: {visit.status_reason}")
    visit_outlook_events_follow(visit=visit, now=now)
    visit_followers_update(visit=visit)
    return visit


OUTCOMES = (VisitStatus.COMPLETED, VisitStatus.TERMINATED, VisitStatus.NO_ACCESS)


@transaction.atomic
def visit_record_outcome(
    *,
    visit: Visit,
    actor,
    outcome: str,
    now: datetime,
    note: str = "",
    reason: str = "",
    rescheduled: bool = False,
    case_record_reference: str = "",
) -> Visit:
    if outcome not in OUTCOMES:
        raise ValidationError({"outcome": "Choose completed, ended early or no access."})
    if outcome == VisitStatus.TERMINATED and not reason.strip():
        raise ValidationError({"reason": "Say why the visit ended early."})
    _require_may_change(actor, visit)
    visit = Visit.objects.select_for_update().get(pk=visit.pk)
    if visit.status in FINISHED_STATUSES or visit.status == VisitStatus.CANCELLED:
        raise ValidationError(f"This visit is already {visit.get_status_display().lower()}.")
    if visit.starts_at > now:
        raise ValidationError("A visit's outcome can only be recorded once it has started.")
    visit.status = outcome
    visit.status_reason = reason.strip()
    visit.rescheduled = rescheduled and outcome == VisitStatus.TERMINATED
    visit.outcome_note = note
    visit.case_record_reference = case_record_reference
    visit.sequence += 1
    visit.full_clean(exclude=[*NOT_CLEANED])
    visit.save()
    summary = f"Outcome: {visit.get_status_display()}"
    if visit.status_reason:
        summary += f" ({visit.status_reason})"
    if visit.rescheduled:
        summary += ", to be rescheduled"
    _log(visit, actor, now, summary[:500])
    visit_followers_update(visit=visit)
    return visit


# The office's go-ahead for an unscheduled visit


def _decide_go_ahead(visit: Visit, actor) -> Visit:
    if not has_capability(user=actor, team=visit.team, capability="watch_board"):
        raise PermissionDenied("Only the designated person or a manager gives the go-ahead.")
    visit = Visit.objects.select_for_update().get(pk=visit.pk)
    if not visit.awaits_go_ahead:
        decided = visit.changes.filter(summary__startswith="Go-ahead").select_related("actor")
        last = decided.last()
        who = (
            f" by {person_name(last.actor)} at {timezone.localtime(last.at):%H:%M}" if last else ""
        )
        raise ValidationError(f"This request was already answered{who}. Nothing was changed.")
    return visit


@transaction.atomic
def visit_go_ahead_give(*, visit: Visit, actor, now: datetime) -> Visit:
    """The designated person confirms the risk information is unchanged since the last
    contact: the worker may start the unscheduled visit."""
    visit = _decide_go_ahead(visit, actor)
    visit.risk_recheck_confirmed_at = now
    visit.save(update_fields=["risk_recheck_confirmed_at", "updated_at"])
    _log(visit, actor, now, "Go-ahead given: risk information unchanged since the last contact")
    return visit


@transaction.atomic
def visit_go_ahead_refuse(*, visit: Visit, actor, reason: str, now: datetime) -> Visit:
    """No go-ahead: the unscheduled visit must not take place, so it is cancelled."""
    if not reason.strip():
        raise ValidationError({"reason": "Give the worker the reason for refusing."})
    visit = _decide_go_ahead(visit, actor)
    visit.status = VisitStatus.CANCELLED
    visit.status_reason = f"No go-ahead: {reason.strip()}"[:500]
    visit.sequence += 1
    visit.save(update_fields=["status", "status_reason", "sequence", "updated_at"])
    _log(visit, actor, now, f"Go-ahead refused: {reason.strip()}")
    visit_outlook_events_follow(visit=visit, now=now)
    visit_followers_update(visit=visit)
    return visit


def _log(visit: Visit, actor, at: datetime, summary: str) -> None:
    VisitChange.objects.create(visit=visit, actor=actor, at=at, summary=summary[:500])


def visit_followers_update(*, visit: Visit, staff: set | None = None, before=None) -> None:
    """Apps above this one keep values derived from who is out on which day (tracking stores
    each worker's next phone-in deadline). They are listed in settings.VISIT_FOLLOWERS, because
    this app may not import them, and called in the same transaction as the change, with the
    people on the visit and its day, now and `before` it changed ((people, day))."""
    if staff is None:
        staff = set(visit.accompanying.values_list("pk", flat=True))
    people, days = staff | {visit.lead_worker_id}, {timezone.localdate(visit.starts_at)}
    if before is not None:
        people |= before[0]
        days.add(before[1])
    for dotted_path in settings.VISIT_FOLLOWERS:
        import_string(dotted_path)(worker_ids=people, days=days)


# Calendar feeds: secret links for Outlook, shown once and stored hashed.


def calendar_feed_longest(*, now: datetime) -> datetime:
    """The latest expiry a new feed may have."""
    return now + timedelta(days=settings.CALENDAR_FEED_MAX_DAYS)


@transaction.atomic
def calendar_feed_create(
    *, user, team: Team | None = None, expires_at: datetime, now: datetime
) -> tuple[CalendarFeed, str]:
    """A new feed that stops at `expires_at`; any earlier live feed of the same scope is
    revoked, so one link works."""
    if team is not None and not has_capability(user=user, team=team, capability="visit"):
        raise ValidationError("You can only subscribe to your own teams' calendars.")
    if expires_at <= now:
        raise ValidationError({"expires_at": "Choose an expiry date in the future."})
    if expires_at > calendar_feed_longest(now=now):
        raise ValidationError(
            {
                "expires_at": f"A calendar link can last at most {settings.CALENDAR_FEED_MAX_DAYS}"
                " days. Choose an earlier date."
            }
        )
    CalendarFeed.objects.filter(user=user, team=team, revoked_at__isnull=True).update(
        revoked_at=now
    )
    raw, token_hash = new_secret_token()
    feed = CalendarFeed.objects.create(
        user=user, team=team, token_hash=token_hash, expires_at=expires_at
    )
    return feed, raw


def calendar_feed_revoke(*, feed: CalendarFeed, now: datetime) -> None:
    CalendarFeed.objects.filter(pk=feed.pk, revoked_at__isnull=True).update(revoked_at=now)


def calendar_feed_note_use(*, feed: CalendarFeed, now: datetime) -> None:
    """Shown on the connections page, so that a link nobody uses any more can be revoked."""
    CalendarFeed.objects.filter(pk=feed.pk).update(last_used_at=now)


def calendar_feeds_revoke_for_user(*, user, now: datetime) -> dict[str, int]:
    """Every live feed of the person; listed in settings.SECRET_TOKEN_REVOKERS, so that
    homevisits' user_secrets_revoke takes feeds along with API tokens."""
    revoked = CalendarFeed.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now)
    return {"calendar links": revoked}


def details_of(visit: Visit) -> VisitDetails:
    """The booking details of an existing visit, for a partial change."""
    return VisitDetails(
        household=visit.household,
        lead_worker=visit.lead_worker,
        accompanying=list(visit.accompanying.all()),
        purpose=visit.purpose,
        kind=visit.kind,
        announced=visit.announced,
        starts_at=visit.starts_at,
        ends_at=visit.ends_at,
        after_plan=visit.after_plan,
        return_by=visit.return_by,
        contact_number=visit.contact_number,
        venue=visit.venue,
        concern_raised=visit.concern_raised,
        concern_reason=visit.concern_reason,
        risk_recheck_confirmed=visit.risk_recheck_confirmed_at is not None,
        hazards_acknowledged=visit.hazards_acknowledged_at is not None,
        second_person_override_reason=visit.second_person_override_reason,
    )


# Facts reported by check-ins (tracking calls these; visits knows nothing of tracking).
#
# A check-in is the hottest write there is, so each of these first tries a compare-and-set on
# what the caller read (one UPDATE that also takes the row's lock); only if the visit changed
# meanwhile does it lock the row, read it again and decide. They never open a savepoint of
# their own: they run inside the check-in's transaction, and an error rolls all of it back.

AWAITS_GO_AHEAD = Q(kind=VisitKind.UNSCHEDULED, status=VisitStatus.BOOKED) & Q(
    risk_recheck_confirmed_at__isnull=True
)


def _set_if_unchanged(visit: Visit, expected: Q, changes: dict, *, log: tuple) -> bool:
    """Write `changes` and the history line `log` (actor, at, summary) if the row still
    matches `expected`: one statement on PostgreSQL. On success the caller's copy gets the
    changes too."""
    actor, at, summary = log
    line = VisitChange(visit=visit, actor=actor, at=at, summary=summary[:500])
    if not update_then_insert(Visit.objects.filter(expected, pk=visit.pk), changes, line):
        return False
    for name, value in changes.items():
        setattr(visit, name, value)
    return True


@transaction.atomic(savepoint=False)
def visit_arrive(*, visit: Visit, actor, now: datetime) -> Visit:
    if visit.arrived_at is None and visit.is_open and not visit.awaits_go_ahead:
        status = VisitStatus.IN_PROGRESS if visit.status == VisitStatus.BOOKED else visit.status
        unchanged = Q(arrived_at__isnull=True, status=visit.status) & ~AWAITS_GO_AHEAD
        changes = {"status": status, "arrived_at": now, "updated_at": now}
        if _set_if_unchanged(visit, unchanged, changes, log=(actor, now, "Arrived")):
            return visit
    visit = Visit.objects.select_for_update().get(pk=visit.pk)
    if visit.arrived_at is not None:  # a repeat: already recorded
        return visit
    if visit.awaits_go_ahead:
        raise ValidationError(
            "Do not go in yet: the office has not given the go-ahead for this unscheduled visit."
        )
    if visit.status == VisitStatus.BOOKED:
        visit.status = VisitStatus.IN_PROGRESS
    visit.arrived_at = now
    visit.save(update_fields=["status", "arrived_at", "updated_at"])
    _log(visit, actor, now, "Arrived")
    return visit


@transaction.atomic(savepoint=False)
def visit_leave(
    *, visit: Visit, actor, now: datetime, summary: str = "Left safely", back_at_office=False
) -> Visit:
    """The worker is accounted for: left_at ends tracking. A worker returning to the office is
    only accounted for on arrival there, so leaving the household is noted and tracking goes on
    until the return time."""
    goes_on = visit.after_plan == AfterVisitPlan.RETURN_TO_OFFICE and not back_at_office
    if visit.left_at is None and not goes_on:
        unchanged = Q(left_at__isnull=True, after_plan=visit.after_plan)
        changes = {"left_at": now, "updated_at": now}
        if _set_if_unchanged(visit, unchanged, changes, log=(actor, now, summary)):
            return visit
    visit = Visit.objects.select_for_update().get(pk=visit.pk)
    if visit.after_plan == AfterVisitPlan.RETURN_TO_OFFICE and not back_at_office:
        _log(visit, actor, now, f"{summary}; tracked until back at the office")
        return visit
    if visit.left_at is None:
        visit.left_at = now
        visit.save(update_fields=["left_at", "updated_at"])
        _log(visit, actor, now, summary)
    return visit


@transaction.atomic(savepoint=False)
def visit_extend(*, visit: Visit, actor, new_end: datetime, reason: str, now: datetime) -> Visit:
    """A new expected finish: the guidance's "phone the office with a new finish time"."""
    changes = None
    if Visit.team.is_cached(visit) and visit.is_open and visit.left_at is None:
        # Worked out from the caller's copy, and written only if the row still matches it
        # (a refusal is left to the locked read below, which sees the visit as it is).
        try:
            changes = _extension(visit, new_end, now, grace=visit.team.policy.grace_period)
        except ValidationError:
            changes = None
    if changes is not None:
        unchanged = Q(
            status=visit.status,
            left_at__isnull=True,
            starts_at=visit.starts_at,
            ends_at=visit.ends_at,
            return_by=visit.return_by,
            sequence=visit.sequence,
        ) & Exists(
            TeamPolicy.objects.filter(
                team_id=OuterRef("team_id"), grace_period=visit.team.policy.grace_period
            )
        )
        log = (actor, now, _extension_summary(new_end, reason))
        if _set_if_unchanged(visit, unchanged, {**changes, "updated_at": now}, log=log):
            visit_outlook_events_follow(visit=visit, now=now)
            return visit
    visit = Visit.objects.select_for_update().get(pk=visit.pk)
    if not visit.is_open or visit.left_at is not None:
        raise ValidationError("This visit is over: it cannot be extended.")
    grace = TeamPolicy.objects.values_list("grace_period", flat=True).get(team_id=visit.team_id)
    for name, value in _extension(visit, new_end, now, grace=grace).items():
        setattr(visit, name, value)
    visit.save(
        update_fields=["ends_at", "return_by", "due_at", "alert_after", "sequence", "updated_at"]
    )
    _log(visit, actor, now, _extension_summary(new_end, reason))
    visit_outlook_events_follow(visit=visit, now=now)
    return visit


def _extension(visit: Visit, new_end: datetime, now: datetime, *, grace: timedelta) -> dict:
    """The fields an extension to `new_end` changes; ValidationError if it cannot be."""
    if new_end <= max(now, visit.starts_at):
        raise ValidationError({"new_end": "The new finish time must be later than now."})
    if new_end - visit.starts_at > MAX_DURATION:
        raise ValidationError({"new_end": "A visit can last at most 12 hours."})
    shift = new_end - visit.ends_at
    return_by = visit.return_by + shift if visit.return_by is not None else None
    return {
        "ends_at": new_end,
        "return_by": return_by,
        **_deadline(return_by or new_end, grace=grace),
        "sequence": visit.sequence + 1,
    }


def _extension_summary(new_end: datetime, reason: str) -> str:
    return f"Extended to {timezone.localtime(new_end):%H:%M}" + (f": {reason}" if reason else "")


# Youth justice: supervised cases and their visit-frequency facts. The rules that turn these facts
# into requirements are data (frequency_rules.py), read by compliance.py.


@dataclass
class CaseDetails:
    """What the case manager records about a supervised child: only what the rules read."""

    reference: str
    household: Household
    case_manager: object
    order_type: str
    assessment_starts_on: date
    rosh: str = ""
    saw: str = ""
    child_protection_plan: bool = False
    assessment_ends_on: date | None = None
    released_on: date | None = None
    closed_on: date | None = None


def may_record_case_facts(*, user, team: Team) -> bool:
    return has_capability(user=user, team=team, capability="assess")


def may_agree_variation(*, user, team: Team) -> bool:
    return has_capability(user=user, team=team, capability="sign_off")


def _require_case_writer(actor, team: Team) -> None:
    if not may_record_case_facts(user=actor, team=team):
        raise PermissionDenied("Your role does not allow changing youth justice cases.")


def _check_case(team: Team, details: CaseDetails) -> None:
    errors = {}
    if team.kind != TeamKind.YOUTH_JUSTICE:
        errors["__all__"] = ["Visit-frequency cases are for youth justice teams only."]
    if details.order_type not in orders_in_table():
        errors["order_type"] = [
            f"“{details.order_type}” is not an order type in the visit-frequency table."
        ]
    elif details.order_type not in ORDERS_WITHOUT_RISK_LEVELS:
        for name, label in (("rosh", "RoSH"), ("saw", "SaW")):
            if not getattr(details, name):
                errors[name] = [f"Give the {label} level: the visit frequency depends on it."]
    if details.household.team_id != team.pk:
        errors["household"] = ["Choose a household of this team."]
    if not has_capability(user=details.case_manager, team=team, capability="assess"):
        errors["case_manager"] = ["The case manager must be a worker or manager in this team."]
    if details.released_on and details.order_type != OrderType.CUSTODIAL:
        errors["released_on"] = ["A release date only applies to a custodial sentence."]
    ends_on = details.assessment_ends_on
    if ends_on and details.assessment_starts_on and ends_on < details.assessment_starts_on:
        errors["assessment_ends_on"] = ["The assessment cannot end before it starts."]
    if not details.reference.strip():
        errors["reference"] = ["Give the case reference."]
    if errors:
        raise ValidationError(errors)


def _apply_case(case: SupervisedCase, details: CaseDetails) -> None:
    case.reference = details.reference.strip()
    case.household = details.household
    case.case_manager = details.case_manager
    case.order_type = details.order_type
    no_levels = details.order_type in ORDERS_WITHOUT_RISK_LEVELS
    case.rosh = "" if no_levels else details.rosh
    case.saw = "" if no_levels else details.saw
    case.child_protection_plan = details.child_protection_plan
    case.assessment_starts_on = details.assessment_starts_on
    case.assessment_ends_on = details.assessment_ends_on
    case.released_on = details.released_on
    case.closed_on = details.closed_on


def _save_case(case: SupervisedCase) -> SupervisedCase:
    duplicate = SupervisedCase.objects.filter(team=case.team, reference=case.reference)
    if duplicate.exclude(pk=case.pk).exists():
        raise ValidationError({"reference": "This team already has a case with this reference."})
    case.full_clean(exclude=["team", "household", "case_manager", "created_by"])
    try:
        with transaction.atomic():
            case.save()
    except IntegrityError as error:  # a race with another save of the same reference
        raise ValidationError({"reference": "This team already has this reference."}) from error
    return case


@transaction.atomic
def case_open(
    *, team: Team, details: CaseDetails, actor, review_dates: tuple[date, ...] = ()
) -> SupervisedCase:
    _require_case_writer(actor, team)
    _check_case(team, details)
    case = SupervisedCase(team=team, created_by=actor)
    _apply_case(case, details)
    _save_case(case)
    for review_on in set(review_dates):
        AssetPlusReview.objects.create(case=case, review_on=review_on)
    return case


@transaction.atomic
def case_update(*, case: SupervisedCase, details: CaseDetails, actor) -> SupervisedCase:
    _require_case_writer(actor, case.team)
    _check_case(case.team, details)
    case = SupervisedCase.objects.select_for_update().get(pk=case.pk)
    _apply_case(case, details)
    return _save_case(case)


@transaction.atomic
def review_dates_add(*, case: SupervisedCase, actor, dates: list[date]) -> list[AssetPlusReview]:
    """Schedule AssetPlus reviews; a date already scheduled is left as it is."""
    _require_case_writer(actor, case.team)
    if not dates:
        raise ValidationError({"dates": "Give at least one review date."})
    existing = set(case.reviews.values_list("review_on", flat=True))
    return [
        AssetPlusReview.objects.create(case=case, review_on=day)
        for day in sorted(set(dates) - existing)
    ]


@transaction.atomic
def review_date_remove(*, review: AssetPlusReview, actor) -> None:
    _require_case_writer(actor, review.case.team)
    review.delete()


@transaction.atomic
def address_change_record(
    *, case: SupervisedCase, actor, moved_on: date, now: datetime
) -> AddressChange:
    """A move starts its own visit deadline. A planned move may be recorded ahead."""
    _require_case_writer(actor, case.team)
    if case.address_changes.filter(moved_on=moved_on).exists():
        raise ValidationError({"moved_on": "A move on this day is already recorded."})
    return AddressChange.objects.create(
        case=case, moved_on=moved_on, recorded_by=actor, recorded_at=now
    )


@transaction.atomic
def variation_agree(
    *,
    case: SupervisedCase,
    actor,
    kind: str,
    reason: str,
    explanation: str,
    arrangement: str,
    review_on: date | None,
    today: date,
    every_months: int | None = None,
) -> Variation:
    """A manager's agreed variation, in force until ended or replaced; it replaces any other."""
    if not may_agree_variation(user=actor, team=case.team):
        raise PermissionDenied("Only a manager of this team can agree a variation.")
    errors = {}
    if review_on is None:
        errors["review_on"] = ["Set a review date: every variation is reviewed."]
    elif review_on <= today:
        errors["review_on"] = ["The review date must be after today."]
    if kind == VariationKind.FREQUENCY and not every_months:
        errors["every_months"] = ["Say how often the child will be visited instead."]
    if kind == VariationKind.NOT_APPROPRIATE:
        every_months = None
    if not arrangement.strip():
        errors["arrangement"] = ["Describe the agreed arrangement or alternatives."]
    if not explanation.strip():
        errors["explanation"] = ["Explain why this variation is agreed."]
    if errors:
        raise ValidationError(errors)
    case = SupervisedCase.objects.select_for_update().get(pk=case.pk)
    Variation.objects.filter(case=case, ended_on__isnull=True).update(
        ended_on=today, ended_by=actor
    )
    variation = Variation(
        case=case,
        kind=kind,
        every_months=every_months,
        reason=reason,
        explanation=explanation.strip(),
        arrangement=arrangement.strip(),
        review_on=review_on,
        agreed_by=actor,
        agreed_on=today,
    )
    variation.full_clean(exclude=["case", "agreed_by", "ended_by"])
    variation.save()
    return variation


@transaction.atomic
def variation_end(*, variation: Variation, actor, today: date) -> Variation:
    """Reviewed and ended: the standard frequencies apply again."""
    if not may_agree_variation(user=actor, team=variation.case.team):
        raise PermissionDenied("Only a manager of this team can end a variation.")
    updated = Variation.objects.filter(pk=variation.pk, ended_on__isnull=True).update(
        ended_on=today, ended_by=actor
    )
    if not updated:
        raise ValidationError("This variation has already ended.")
    variation.refresh_from_db()
    return variation
