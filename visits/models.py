"""The visit calendar: each home visit booked in advance, its changes, and calendar feeds."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from homevisits.models import Team
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
    arrived_at = models.DateTimeField(null=True, blank=True)
    left_at = models.DateTimeField(null=True, blank=True)

    risk_recheck_confirmed_at = models.DateTimeField(null=True, blank=True)
    hazards_acknowledged_at = models.DateTimeField(null=True, blank=True)

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
        ]
        indexes = [
            # The sweep's index: only visits that are still out, so history does not slow it.
            models.Index(
                fields=["due_at"],
                condition=Q(status__in=["booked", "in_progress"], left_at__isnull=True),
                name="visit_out_due_idx",
            ),
            models.Index(fields=["team", "starts_at"]),
            models.Index(fields=["lead_worker", "starts_at"]),
            models.Index(fields=["household", "status", "starts_at"]),
        ]

    def __str__(self):
        return f"{self.household.display_name}, {self.starts_at:%d %b %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

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


class SecretToken(models.Model):
    """A secret shown once; only its SHA-256 is stored. Revoked tokens stop working at once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class CalendarFeed(SecretToken):
    """An iCalendar subscription: the user's own visits, or a whole team's when team is set."""

    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE)

    def __str__(self):
        return f"Calendar feed of {self.team or self.user}"


class ApiToken(SecretToken):
    name = models.CharField(max_length=60)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"API token {self.name} of {self.user}"
