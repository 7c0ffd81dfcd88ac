"""Households and their versioned risk assessments, with hazards, control measures and sign-off."""

from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models import Q

from homevisits.models import AuditObject, AuditTarget, Team

NOTE_LIMIT = 2000


def limited_text(limit: int = NOTE_LIMIT, **kwargs):
    """A TextField whose length is enforced by forms and by full_clean alike."""
    return models.TextField(
        max_length=limit, validators=[MaxLengthValidator(limit)], blank=True, **kwargs
    )


class HouseholdStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    CLOSED = "closed", "Closed"


class Household(models.Model):
    """A home that staff visit. The display name keeps personal data to a minimum."""

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="households")
    display_name = models.CharField(
        max_length=80, help_text="A family name or case reference; no children's names."
    )
    address = models.TextField(max_length=300, validators=[MaxLengthValidator(300)])
    postcode = models.CharField(max_length=8)
    case_reference = models.CharField(max_length=40, blank=True)
    access_notes = limited_text(
        1000, help_text="Parking, dogs, entrances: anything a visitor should know on arrival."
    )
    status = models.CharField(
        max_length=8, choices=HouseholdStatus.choices, default=HouseholdStatus.ACTIVE
    )
    # When it was last closed; the retention schedule counts from it. Empty while active.
    closed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["display_name", "pk"]
        indexes = [
            models.Index(fields=["team", "postcode"]),
            models.Index(fields=["team", "display_name"]),
        ]

    def __str__(self):
        return f"{self.display_name} ({self.postcode})"

    @property
    def audit_target(self) -> AuditTarget:
        return AuditTarget(self.team_id, AuditObject.HOUSEHOLD, str(self.pk), self.pk)


class AssessmentStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Awaiting sign-off"
    RETURNED = "returned", "Returned for changes"
    SIGNED_OFF = "signed_off", "Signed off"
    SUPERSEDED = "superseded", "Superseded"


EDITABLE_STATUSES = (AssessmentStatus.DRAFT, AssessmentStatus.RETURNED)


class ControlMeasure(models.Model):
    """The catalogue of control measures that an assessment can pick from."""

    text = models.CharField(max_length=200, unique=True)
    is_active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "text"]

    def __str__(self):
        return self.text


class RiskAssessment(models.Model):
    """One version of a household's risk assessment. Signed off, it never changes again."""

    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="assessments")
    version = models.PositiveIntegerField()
    status = models.CharField(
        max_length=12, choices=AssessmentStatus.choices, default=AssessmentStatus.DRAFT
    )

    # Sources consulted before the assessment.
    checked_case_records = models.BooleanField(
        "Case-record system checked for flagged risks", default=False
    )
    consulted_other_agencies = models.BooleanField("Other agencies consulted", default=False)
    checked_police_records = models.BooleanField("Police records checked", default=False)
    consulted_social_care_worker = models.BooleanField(
        "Allocated social-care worker consulted", default=False
    )
    sources_notes = limited_text()

    # None until the author decides: "no significant risk" must be recorded, not assumed.
    significant_risk = models.BooleanField(null=True, blank=True)
    control_measures = models.ManyToManyField(ControlMeasure, blank=True, related_name="+")
    other_control_measures = limited_text(help_text="Any further measures, one per line.")

    # Extra measures agreed with a manager where concerns remain.
    alternative_venue = models.BooleanField("Meet at a venue other than the home", default=False)
    second_person = models.BooleanField("A second person attends", default=False)
    lone_worker_device = models.BooleanField("Lone-worker device carried", default=False)
    agreed_contact_procedure = models.BooleanField(
        "Detailed contact procedure agreed", default=False
    )
    extra_measures_notes = limited_text()

    worker_views = limited_text(help_text="Your own view of the risks and the measures.")
    review_by = models.DateField(null=True, blank=True)

    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_comment = limited_text(1000)

    class Meta:
        ordering = ["household", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["household", "version"], name="one_row_per_version"),
            models.UniqueConstraint(
                fields=["household"],
                condition=Q(status="signed_off"),
                name="one_current_signed_off_assessment",
            ),
        ]
        indexes = [
            models.Index(
                fields=["status"], condition=Q(status="submitted"), name="assessment_awaiting_idx"
            ),
        ]

    def __str__(self):
        return f"{self.household.display_name}: version {self.version}"

    @property
    def audit_target(self) -> AuditTarget:
        team_id = self.household.team_id
        return AuditTarget(team_id, AuditObject.RISK_ASSESSMENT, str(self.pk), self.household_id)

    @property
    def is_editable(self) -> bool:
        return self.status in EDITABLE_STATUSES

    @property
    def other_control_measure_lines(self) -> list[str]:
        return [line.strip() for line in self.other_control_measures.splitlines() if line.strip()]

    @property
    def extra_measures(self) -> list[str]:
        names = ["alternative_venue", "second_person", "lone_worker_device"]
        names.append("agreed_contact_procedure")
        return [self._meta.get_field(name).verbose_name for name in names if getattr(self, name)]

    @property
    def sources_consulted(self) -> list[str]:
        names = ["checked_case_records", "consulted_other_agencies", "checked_police_records"]
        names.append("consulted_social_care_worker")
        return [self._meta.get_field(name).verbose_name for name in names if getattr(self, name)]


class HazardCategory(models.TextChoices):
    VIOLENCE = "violence", "Violence or aggression to staff"
    THREATS = "threats", "Threats"
    WEAPONS = "weapons", "Weapons"
    ANIMALS = "animals", "Dangerous dogs or animals"
    DRUGS_ALCOHOL = "drugs_alcohol", "Drugs or alcohol"
    INFECTION = "infection", "Infection or health"
    PREMISES = "premises", "Unsafe premises"
    ISOLATION = "isolation", "Isolated location or poor phone signal"
    OTHER = "other", "Other"


class Hazard(models.Model):
    assessment = models.ForeignKey(RiskAssessment, on_delete=models.CASCADE, related_name="hazards")
    category = models.CharField(max_length=16, choices=HazardCategory.choices)
    description = models.CharField(max_length=500)
    source = models.CharField(max_length=120, help_text="Where this came from, e.g. police check.")
    learned_on = models.DateField("Date learned")

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return f"{self.get_category_display()}: {self.description[:40]}"


class AssessmentEvent(models.Model):
    """Append-only record of every status change: who, when, from which status to which."""

    assessment = models.ForeignKey(RiskAssessment, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    from_status = models.CharField(max_length=12, choices=AssessmentStatus.choices, blank=True)
    to_status = models.CharField(max_length=12, choices=AssessmentStatus.choices)
    comment = limited_text(1000)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.assessment}: {self.from_status or 'new'} → {self.to_status}"
