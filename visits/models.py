"""The visit calendar: each home visit booked in advance, its changes, and calendar feeds."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from homevisits.models import AuditObject, AuditTarget, SecretToken, Team
from homevisits.phone import UKPhoneNumberField, display_uk_phone
from riskassess.models import Household, limited_text


class VisitKind(models.TextChoices):
    FIRST = "first", "First visit"
    PLANNED = "planned", "Planned visit"
    UNSCHEDULED = "unscheduled", "Unscheduled visit"


class AfterVisitPlan(models.TextChoices):
    NEXT_VISIT = "next_visit", "Going on to another visit"
    RETURN_TO_OFFICE = "return_to_office", "Returning to the office"
    GOING_HOME = "going_home", "Going home"


class VisitStatus(models.TextChoices):
    BOOKED = "booked", "Booked"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    TERMINATED = "terminated", "Ended early"
    NO_ACCESS = "no_access", "No access"


OPEN_STATUSES = (VisitStatus.BOOKED, VisitStatus.IN_PROGRESS)
FINISHED_STATUSES = (VisitStatus.COMPLETED, VisitStatus.TERMINATED, VisitStatus.NO_ACCESS)


class Visit(models.Model):
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="visits")
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="visits")
    lead_worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="led_visits"
    )
    accompanying = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="accompanied_visits"
    )
    purpose = models.CharField(max_length=200)
    kind = models.CharField(max_length=12, choices=VisitKind.choices, default=VisitKind.PLANNED)
    announced = models.BooleanField(default=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    after_plan = models.CharField(max_length=16, choices=AfterVisitPlan.choices, blank=True)
    return_by = models.DateTimeField(null=True, blank=True)
    contact_number = UKPhoneNumberField(blank=True)
    venue = models.CharField(
        max_length=200, blank=True, help_text="Only if the visit is not at the home."
    )
    concern_raised = models.BooleanField(default=False)
    concern_reason = models.CharField(max_length=500, blank=True)

    # The deadline that tracking watches: the expected return time if the worker is going back
    # to the office, otherwise the expected finish. Kept up to date by the services.
    due_at = models.DateTimeField()
    # When the ladder starts if nobody has checked in: due_at plus the team's grace period.
    # Stored (and indexed) so that the sweep selects exactly the visits that are overdue.
    alert_after = models.DateTimeField()
    arrived_at = models.DateTimeField(null=True, blank=True)
    left_at = models.DateTimeField(null=True, blank=True)

    risk_recheck_confirmed_at = models.DateTimeField(null=True, blank=True)
    hazards_acknowledged_at = models.DateTimeField(null=True, blank=True)

    # A manager's recorded decision that this visit goes ahead without the second person that
    # the household's risk assessment asks for.
    second_person_override_reason = models.CharField(max_length=500, blank=True)
    second_person_overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    second_person_overridden_at = models.DateTimeField(null=True, blank=True)

    status = models.CharField(
        max_length=12, choices=VisitStatus.choices, default=VisitStatus.BOOKED
    )
    status_reason = models.CharField(max_length=500, blank=True)
    rescheduled = models.BooleanField(default=False)
    outcome_note = limited_text()
    case_record_reference = models.CharField(max_length=40, blank=True)

    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Rises on every change so that Outlook replaces its copy of the event.
    sequence = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["starts_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="visit_ends_after_it_starts"
            ),
            models.CheckConstraint(
                condition=Q(
                    second_person_override_reason="",
                    second_person_overridden_by__isnull=True,
                    second_person_overridden_at__isnull=True,
                )
                | (
                    ~Q(second_person_override_reason="")
                    & Q(
                        second_person_overridden_by__isnull=False,
                        second_person_overridden_at__isnull=False,
                    )
                ),
                name="second_person_override_says_who_when_and_why",
            ),
        ]
        indexes = [
            # The sweep's index: only visits that are still out, so history does not slow it.
            models.Index(
                fields=["due_at"],
                condition=Q(status__in=["booked", "in_progress"], left_at__isnull=True),
                name="visit_out_due_idx",
            ),
            models.Index(
                fields=["alert_after"],
                condition=Q(status__in=["booked", "in_progress"], left_at__isnull=True),
                name="visit_out_alert_idx",
            ),
            models.Index(fields=["team", "starts_at"]),
            models.Index(fields=["lead_worker", "starts_at"]),
            models.Index(fields=["household", "status", "starts_at"]),
        ]

    def __str__(self):
        return f"{self.household.display_name}, {self.starts_at:%d %b %H:%M}"

    @property
    def audit_target(self) -> AuditTarget:
        return AuditTarget(self.team_id, AuditObject.VISIT, str(self.pk), self.household_id)

    @property
    def awaits_go_ahead(self) -> bool:
        """An unscheduled visit still waiting for the office to confirm the risk information."""
        return (
            self.kind == VisitKind.UNSCHEDULED
            and self.status == VisitStatus.BOOKED
            and self.risk_recheck_confirmed_at is None
        )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_over(self) -> bool:
        """Nothing more to watch: the worker has left (or is back at the office), or the visit
        is finished or cancelled."""
        return self.left_at is not None or not self.is_open

    @property
    def contact_number_display(self) -> str:
        return display_uk_phone(self.contact_number)

    @property
    def staff(self) -> list:
        return [self.lead_worker, *self.accompanying.all()]


class VisitChange(models.Model):
    """Append-only history of a visit: who did what, and when."""

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="changes")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    summary = models.CharField(max_length=500)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self):
        return self.summary


class CalendarFeed(SecretToken):
    """An iCalendar subscription: the user's own visits, or a whole team's when team is set.

    It answers only while it is not revoked, not expired, and its owner is active and may still
    see the visits (see selectors.live_feed and feed_visits)."""

    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE)
    # Every feed made here has one; empty only for feeds made before feeds expired, which the
    # migration that added it gave one year.
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"Calendar feed of {self.team or self.user}"


# Youth justice: visit-frequency requirements. The rules themselves are data, in
# frequency_rules.py; these tables hold only the facts that the rules read.


class OrderType(models.TextChoices):
    COMMUNITY_ORDER = "community_order", "Community order (CJIA 2008)"
    CUSTODIAL = "custodial", "Custodial sentence (release on licence)"
    BAIL = "bail", "Bail"
    ISS = "iss", "Intensive Supervision and Surveillance (ISS)"
    MY_FUTURES = "my_futures", "My Futures"
    OUT_OF_COURT = "out_of_court", "Out-of-court disposal"


# My Futures and out-of-court disposals have their own, shorter table with no risk rows.
ORDERS_WITHOUT_RISK_LEVELS = (OrderType.MY_FUTURES, OrderType.OUT_OF_COURT)


class RiskLevel(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    VERY_HIGH = "very_high", "Very high"


class SupervisedCase(models.Model):
    """A child supervised by a youth justice team, known by a case reference only."""

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="supervised_cases")
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="supervised_cases"
    )
    reference = models.CharField(
        "Case reference", max_length=40, help_text="A case reference, never the child's name."
    )
    case_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="managed_cases"
    )
    order_type = models.CharField("Order or intervention", max_length=16, choices=OrderType.choices)
    rosh = models.CharField(
        "Risk of serious harm (RoSH)", max_length=10, choices=RiskLevel.choices, blank=True
    )
    saw = models.CharField(
        "Safety and wellbeing (SaW)", max_length=10, choices=RiskLevel.choices, blank=True
    )
    child_protection_plan = models.BooleanField("Subject to a child protection plan", default=False)
    assessment_starts_on = models.DateField("Assessment started on")
    assessment_ends_on = models.DateField("Assessment due to end on", null=True, blank=True)
    released_on = models.DateField(
        "Release from custody", null=True, blank=True, help_text="Past or planned."
    )
    closed_on = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["reference", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["team", "reference"], name="one_case_per_reference"),
            models.CheckConstraint(
                condition=Q(order_type__in=[choice.value for choice in OrderType]),
                name="case_order_type_known",
            ),
            models.CheckConstraint(
                condition=Q(order_type__in=[o.value for o in ORDERS_WITHOUT_RISK_LEVELS])
                | (~Q(rosh="") & ~Q(saw="")),
                name="case_risk_levels_for_statutory_orders",
            ),
            models.CheckConstraint(
                condition=Q(released_on__isnull=True) | Q(order_type="custodial"),
                name="case_release_only_for_custody",
            ),
            models.CheckConstraint(
                condition=Q(assessment_ends_on__isnull=True)
                | Q(assessment_ends_on__gte=F("assessment_starts_on")),
                name="case_assessment_ends_after_start",
            ),
        ]
        indexes = [models.Index(fields=["team", "case_manager"])]

    def __str__(self):
        return self.reference

    @property
    def audit_target(self) -> AuditTarget:
        return AuditTarget(self.team_id, AuditObject.CASE, str(self.pk), self.household_id)

    @property
    def is_open(self) -> bool:
        return self.closed_on is None


class AssetPlusReview(models.Model):
    """A scheduled AssetPlus review: a low or medium risk child is visited before each one."""

    case = models.ForeignKey(SupervisedCase, on_delete=models.CASCADE, related_name="reviews")
    review_on = models.DateField("AssetPlus review date")

    class Meta:
        ordering = ["review_on", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["case", "review_on"], name="one_review_per_day"),
        ]

    def __str__(self):
        return f"{self.case}: AssetPlus review {self.review_on:%d %b %Y}"


class AddressChange(models.Model):
    """The child moved. Each move starts its own visit deadline; the address is on the household."""

    case = models.ForeignKey(
        SupervisedCase, on_delete=models.CASCADE, related_name="address_changes"
    )
    moved_on = models.DateField("Moved on")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["moved_on", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["case", "moved_on"], name="one_move_per_day"),
        ]

    def __str__(self):
        return f"{self.case}: moved {self.moved_on:%d %b %Y}"


class VariationKind(models.TextChoices):
    FREQUENCY = "frequency", "Agreed alternative frequency"
    NOT_APPROPRIATE = "not_appropriate", "Home visits not appropriate"


class VariationReason(models.TextChoices):
    ASSESSED_NEED = "assessed_need", "Assessed desistance needs"
    RISK_TO_STAFF = "risk_to_staff", "Risk of harm to staff"
    PARENTS_REFUSE = "parents_refuse", "Parents or carers refuse admission"
    OTHER = "other", "Other (explain below)"


class Variation(models.Model):
    """A manager's agreed variation of the standard frequency, in force until it is ended or
    replaced. Its review date is required: a variation is never open-ended."""

    case = models.ForeignKey(SupervisedCase, on_delete=models.CASCADE, related_name="variations")
    kind = models.CharField(max_length=16, choices=VariationKind.choices)
    every_months = models.PositiveSmallIntegerField(
        "Visit at least every (months)", null=True, blank=True
    )
    reason = models.CharField(max_length=16, choices=VariationReason.choices)
    explanation = models.CharField(max_length=500)
    arrangement = models.CharField(
        "Agreed arrangement or alternatives",
        max_length=500,
        help_text="For example: meet at the office every fortnight; joint visits with police.",
    )
    review_on = models.DateField("Review by")
    agreed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    agreed_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        ordering = ["-agreed_on", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["case"],
                condition=Q(ended_on__isnull=True),
                name="one_variation_in_force",
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind="frequency", every_months__gte=1, every_months__lte=12)
                    | Q(kind="not_appropriate", every_months__isnull=True)
                ),
                name="variation_frequency_only_when_varying_frequency",
            ),
        ]

    def __str__(self):
        return f"{self.case}: {self.get_kind_display()}"

    @property
    def in_force(self) -> bool:
        return self.ended_on is None


# Outlook calendars through Microsoft Graph (visits/outlook.py): which mailbox is whose, and an
# outbox of one row per visit and mailbox saying what its event should be.


class OutlookCalendar(models.Model):
    """A member of staff's Outlook calendar, connected by a team admin: the visits they go on
    are written into it. One per person, whichever teams they are in."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="outlook_calendar"
    )
    principal_name = models.CharField(
        "Microsoft account",
        max_length=254,
        unique=True,
        help_text="Their user principal name in Microsoft 365, usually their work email.",
    )
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    connected_at = models.DateTimeField()

    def __str__(self):
        return f"Outlook calendar of {self.user}"


class SyncStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    SENDING = "sending", "Being sent"
    SYNCED = "synced", "In Outlook"
    FAILED = "failed", "Failed"


class OutlookEventSync(models.Model):
    """The outbox row for one visit's event in one mailbox.

    `wanted` says whether the event should exist (a cancelled visit, or a person taken off it,
    wants none), and the event's text is built from the visit when it is sent, so several
    changes before a send make one request with the latest state. `version` rises with every
    change; a sender remembers the version it leased and, if it rose meanwhile, sends again.
    A sender leases the row by compare-and-set (status SENDING until `sending_until`); a lease
    that expires is taken again. `transaction_id` goes with the POST that creates the event, so
    that Graph answers a repeated create with the event it already made."""

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="outlook_events")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # Where the event lives, kept on the row: a disconnected person's event can still go.
    mailbox = models.CharField(max_length=254)
    wanted = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=8, choices=SyncStatus.choices, default=SyncStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sending_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    transaction_id = models.UUIDField(default=uuid.uuid4)
    # True from the moment a create is sent until the event is known (or deleted): an event may
    # exist whose id never came back, so it is found again by its transaction id.
    create_sent = models.BooleanField(default=False)
    graph_event_id = models.CharField(max_length=300, blank=True)
    # The team's feed_detail when the event was last written: a change of it rewrites events.
    detail_sent = models.CharField(max_length=20, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["visit", "user", "mailbox"], name="one_outlook_event_per_visit_mailbox"
            ),
        ]
        indexes = [
            # The sender's probe: only rows waiting or leased, so synced history never slows it.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "sending"]),
                name="outlook_sync_due_idx",
            ),
            models.Index(fields=["user", "status"]),
        ]

    def __str__(self):
        return f"Outlook event of visit {self.visit_id} for {self.mailbox}"
