"""The organisation: teams, their policies, who belongs to them and in which role."""

from dataclasses import dataclass
from datetime import time, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django_otp.models import Device

from .people import Contact
from .phone import UKPhoneNumberField, display_uk_phone


class TeamKind(models.TextChoices):
    CHILDRENS_SERVICES = "childrens_services", "Children's services"
    SCHOOL_PARTNERSHIP = "school_partnership", "School partnership"
    YOUTH_JUSTICE = "youth_justice", "Youth justice"


class Team(models.Model):
    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    kind = models.CharField(max_length=32, choices=TeamKind.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class CaseRecordSystem(models.TextChoices):
    MOSAIC = "mosaic", "Mosaic"
    CAPITA = "capita", "CAPITA"
    PAPER = "paper", "None (paper records)"


CASE_REFERENCE_LABELS = {
    CaseRecordSystem.MOSAIC: "Mosaic ID",
    CaseRecordSystem.CAPITA: "CAPITA ref",
    CaseRecordSystem.PAPER: "",
}


class FeedDetail(models.TextChoices):
    """How much of a visit the team's calendar feeds show. The guidance wants who and where."""

    FULL_ADDRESS = "full_address", "Household name and full address (as the guidance asks)"
    POSTCODE_DISTRICT = "postcode_district", "Household name and postcode district only (SW1A)"
    TIME_ONLY = "time_only", "Time and staff only: no household, no place"


def _positive_duration(value):
    if value <= timedelta(0):
        raise ValidationError("Must be longer than zero.", code="not_positive")


def _non_negative_duration(value):
    if value < timedelta(0):
        raise ValidationError("Cannot be negative.", code="negative")


class TeamPolicy(models.Model):
    """How a team works. Every ladder duration is a field so that a drill can run in seconds."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="policy")

    # The escalation ladder (see DESIGN.md). The first attempt falls at due_at + grace_period.
    grace_period = models.DurationField(
        default=timedelta(0),
        validators=[_non_negative_duration],
        help_text="Added to the expected finish time before the first contact attempt.",
    )
    attempt_interval = models.DurationField(
        default=timedelta(minutes=5),
        validators=[_positive_duration],
        help_text="Time between contact attempts.",
    )
    manager_escalation_delay = models.DurationField(
        default=timedelta(minutes=5),
        validators=[_positive_duration],
        help_text="Latest time after the third attempt before the designated manager is alerted.",
    )
    backup_escalation_delay = models.DurationField(
        default=timedelta(minutes=10),
        validators=[_positive_duration],
        help_text="Time without acknowledgement before the backup manager is alerted.",
    )

    # Days out: staff away from the office phone in at this interval, between visits too.
    phone_in_interval = models.DurationField(
        null=True,
        blank=True,
        validators=[_positive_duration],
        help_text="How often staff out on visits phone in. Leave empty for no interval check-ins.",
    )
    interval_for_everyone = models.BooleanField(
        default=False,
        help_text="Interval check-ins for everyone out on visits, not only those with a "
        "high-risk visit that day.",
    )

    monitor_all_visits = models.BooleanField(
        default=False, help_text="Watch every visit, not only high-risk ones."
    )
    pairs_only = models.BooleanField(default=False, help_text="Visits always need two staff.")
    case_record_system = models.CharField(
        max_length=16, choices=CaseRecordSystem.choices, default=CaseRecordSystem.MOSAIC
    )
    risk_info_stale_after_days = models.PositiveSmallIntegerField(
        default=28,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="A household not seen for longer needs its risk information re-checked.",
    )
    risk_review_months = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(12)],
        help_text="Default time until a risk assessment is due for review.",
    )
    feed_detail = models.CharField(
        "Calendar feeds show",
        max_length=20,
        choices=FeedDetail.choices,
        default=FeedDetail.FULL_ADDRESS,
        help_text="What Outlook calendar links show of each visit. Never a child's details; "
        "everything else stays on the secure visit page.",
    )
    emergency_phone = UKPhoneNumberField(
        blank=True, help_text="The team's emergency line, for staff to keep on speed dial."
    )
    # The last resort of every alert: reached by SMS and email when the team has no active
    # manager, or no manager different from the one already alerted. May have no account.
    head_of_service_name = models.CharField(
        "Head of service",
        max_length=120,
        blank=True,
        help_text="Alerts reach them when no manager can.",
    )
    head_of_service_mobile = UKPhoneNumberField("Head of service mobile", blank=True)
    head_of_service_email = models.EmailField("Head of service email", blank=True)

    # Duress. With a PIN, "Left safely" cannot be given by someone holding a worker's phone;
    # a worker's second, duress PIN checks them out as usual while silently raising the alarm.
    checkout_pin_required = models.BooleanField(
        "Ask for a PIN at “Left safely”",
        default=False,
        help_text="Each worker sets a personal PIN, and may set a duress PIN: it checks them "
        "out as usual on their phone while the office is silently alerted.",
    )
    # Kept readable on purpose: the designated person must recognise it when a worker says it
    # on a call. Shown to the team's designated persons and managers, never to workers.
    code_word = models.CharField(
        max_length=60,
        blank=True,
        help_text="Said by a worker on a call when they cannot speak freely; the office then "
        "raises the silent alarm. Tell workers in person: the app never shows it to them.",
    )

    class Meta:
        verbose_name_plural = "team policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(grace_period__gte=timedelta(0)), name="policy_grace_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(attempt_interval__gt=timedelta(0))
                & Q(manager_escalation_delay__gt=timedelta(0))
                & Q(backup_escalation_delay__gt=timedelta(0)),
                name="policy_ladder_durations_positive",
            ),
            models.CheckConstraint(
                condition=Q(phone_in_interval__isnull=True) | Q(phone_in_interval__gt=timedelta(0)),
                name="policy_phone_in_interval_positive",
            ),
        ]

    def __str__(self):
        return f"Policy for {self.team}"

    @property
    def case_reference_label(self) -> str:
        """ "Mosaic ID", "CAPITA ref", or "" when the team keeps paper records."""
        return CASE_REFERENCE_LABELS[self.case_record_system]

    @property
    def emergency_phone_display(self) -> str:
        return display_uk_phone(self.emergency_phone)

    @property
    def head_of_service(self) -> Contact | None:
        """The head-of-service contact, if one is set with a way to reach them."""
        if not self.head_of_service_name or not (
            self.head_of_service_mobile or self.head_of_service_email
        ):
            return None
        return Contact(
            name=self.head_of_service_name,
            mobile=self.head_of_service_mobile,
            email=self.head_of_service_email,
        )

    def clean(self):
        has_contact = self.head_of_service_mobile or self.head_of_service_email
        if has_contact and not self.head_of_service_name:
            raise ValidationError({"head_of_service_name": "Give the head of service's name."})
        if self.head_of_service_name and not has_contact:
            raise ValidationError(
                {"head_of_service_mobile": "Give the head of service's mobile or email, or both."}
            )


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


DEFAULT_OFFICE_OPENS = time(9, 0)
DEFAULT_OFFICE_CLOSES = time(17, 0)


class OfficeHours(models.Model):
    """Office hours for one weekday, in Europe/London wall-clock time. No row: closed all day."""

    policy = models.ForeignKey(TeamPolicy, on_delete=models.CASCADE, related_name="office_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens_at = models.TimeField(default=DEFAULT_OFFICE_OPENS)
    closes_at = models.TimeField(default=DEFAULT_OFFICE_CLOSES)

    class Meta:
        ordering = ["weekday"]
        verbose_name_plural = "office hours"
        constraints = [
            models.UniqueConstraint(fields=["policy", "weekday"], name="one_office_hours_per_day"),
            models.CheckConstraint(
                condition=Q(closes_at__gt=models.F("opens_at")), name="office_closes_after_opening"
            ),
        ]

    def __str__(self):
        return f"{self.get_weekday_display()} {self.opens_at:%H:%M}–{self.closes_at:%H:%M}"

    def clean(self):
        if self.opens_at and self.closes_at and self.closes_at <= self.opens_at:
            raise ValidationError({"closes_at": "The office must close after it opens."})


class Role(models.TextChoices):
    WORKER = "worker", "Worker"
    VOLUNTEER = "volunteer", "Volunteer"
    DESIGNATED_PERSON = "designated", "Designated person"
    MANAGER = "manager", "Manager"
    ADMIN = "admin", "Team admin"


class Membership(models.Model):
    """A person's role in one team. A person may belong to several teams."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team__name", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["user", "team"], name="one_membership_per_team"),
        ]

    def __str__(self):
        return f"{self.user} – {self.get_role_display()} in {self.team}"


class StaffProfile(models.Model):
    """Contact and emergency details. Next of kin and vehicle are only for emergencies."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile"
    )
    mobile = UKPhoneNumberField(blank=True)
    next_of_kin_name = models.CharField(max_length=120, blank=True)
    next_of_kin_phone = UKPhoneNumberField(blank=True)
    vehicle_make = models.CharField(max_length=60, blank=True)
    vehicle_colour = models.CharField(max_length=30, blank=True)
    vehicle_registration = models.CharField(max_length=10, blank=True)

    def __str__(self):
        return f"Profile of {self.user}"

    def clean(self):
        self.vehicle_registration = " ".join(self.vehicle_registration.upper().split())
        if self.next_of_kin_phone and not self.next_of_kin_name:
            raise ValidationError({"next_of_kin_name": "Give the name of the next of kin."})

    @property
    def mobile_display(self) -> str:
        return display_uk_phone(self.mobile)

    @property
    def next_of_kin_phone_display(self) -> str:
        return display_uk_phone(self.next_of_kin_phone)


class AuditAction(models.TextChoices):
    VIEWED_ESCALATION = "viewed_escalation", "Viewed an escalation"
    REVEALED_EMERGENCY_DETAILS = "revealed_emergency", "Revealed emergency details"
    VIEWED_HOUSEHOLD = "viewed_household", "Viewed a household"
    VIEWED_ASSESSMENT = "viewed_assessment", "Viewed a risk assessment"
    PRINTED_ASSESSMENT = "printed_assessment", "Printed a risk assessment"
    VIEWED_VISIT = "viewed_visit", "Viewed a visit"
    PRINTED_VISIT = "printed_visit", "Printed a visit record"
    LISTED_VISITS = "listed_visits", "Listed visits"
    VIEWED_CASE = "viewed_case", "Viewed a youth justice case"
    SEARCHED_HOUSEHOLDS = "searched_households", "Searched households"
    FETCHED_CALENDAR_FEED = "fetched_feed", "Calendar feed fetched"
    EXPORTED_AUDIT_LOG = "exported_audit_log", "Exported the audit log"
    EXPORTED_REPORT = "exported_report", "Exported a team report table (CSV)"
    PRINTED_REPORT = "printed_report", "Printed a team report"


class AuditObject(models.TextChoices):
    """What an audit line is about; with `object_reference` (its id) it names one record."""

    HOUSEHOLD = "household", "Household"
    RISK_ASSESSMENT = "risk_assessment", "Risk assessment"
    VISIT = "visit", "Visit"
    CASE = "case", "Youth justice case"
    ESCALATION = "escalation", "Escalation"
    CALENDAR_FEED = "calendar_feed", "Calendar feed"
    AUDIT_LOG = "audit_log", "Audit log"
    REPORT = "report", "Team report"


class AuditChannel(models.TextChoices):
    WEB = "web", "Web page"
    API = "api", "API"
    FEED = "feed", "Calendar feed"


@dataclass(frozen=True)
class AuditTarget:
    """What one audit line is about: the team whose data it is and, for one record, its type,
    id and household. Models of the apps above say it of themselves (`audit_target`)."""

    team_id: int
    object_type: str = ""
    object_reference: str = ""
    household_ref: int | None = None


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditLogIsAppendOnly()

    def delete(self):
        raise AuditLogIsAppendOnly()


class AuditLogIsAppendOnly(Exception):
    def __init__(self):
        super().__init__("The audit log is append-only: entries are never changed or removed.")


class AuditEvent(models.Model):
    """Who looked at personal information, and when. Rows are only ever added: the model refuses
    changes and deletions, and on PostgreSQL a trigger refuses them too.

    `household_ref` is the id of the household the line is about (its visits, assessments and
    cases included). It is a plain indexed column, not a foreign key, because households live in
    an app above this one; "who looked at this household" is one indexed query on it."""

    at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    channel = models.CharField(max_length=8, choices=AuditChannel.choices, default=AuditChannel.WEB)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="+")
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Whose details were seen.",
    )
    object_type = models.CharField(max_length=20, choices=AuditObject.choices, blank=True)
    object_reference = models.CharField(max_length=40, blank=True)
    household_ref = models.PositiveBigIntegerField(null=True, blank=True)
    detail = models.CharField(
        max_length=200, blank=True, help_text="Search terms or filters, as typed; list sizes."
    )

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [
            models.Index(fields=["team", "-at"]),
            models.Index(
                fields=["team", "household_ref", "-at"],
                condition=Q(household_ref__isnull=False),
                name="audit_by_household",
            ),
            models.Index(fields=["team", "actor", "-at"], name="audit_by_actor"),
        ]

    def __str__(self):
        return f"{self.actor} {self.get_action_display().lower()} at {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AuditLogIsAppendOnly()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditLogIsAppendOnly()

    @property
    def object_label(self) -> str:
        """ "Visit 12", or "" for a line about no one record (a search, a list, an export).
        Lines written before object types were kept say it all in their reference."""
        if not self.object_type or not self.object_reference:
            return self.object_reference
        return f"{self.get_object_type_display()} {self.object_reference}"


class SecretToken(models.Model):
    """A secret shown once; only its SHA-256 is stored. Revoked tokens stop working at once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class ApiTokenScope(models.TextChoices):
    ALL = "all", "All of the API"
    CHECK_INS = "check_ins", "Check-ins only"


class ApiToken(SecretToken):
    """A personal token for the JSON API, shared by every app's router. It works until
    `expires_at` (API_TOKEN_DAYS after it was made, or sooner if its maker chose), and only while
    its owner is active and still in a team. A check-ins-only token reaches only the endpoints
    listed in settings.API_CHECK_IN_ENDPOINTS (see api_auth)."""

    name = models.CharField(max_length=60)
    scope = models.CharField(
        max_length=16, choices=ApiTokenScope.choices, default=ApiTokenScope.ALL
    )
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"API token {self.name} of {self.user}"

    def expired_at(self, now) -> bool:
        return now >= self.expires_at


class SubmissionKey(models.Model):
    """A one-time key of a write, from a form's hidden field or the API's Idempotency-Key header,
    with the first answer it got: a repeat (a double tap, a resend after lost signal) gets that
    answer again and writes nothing. Keys are per person. They matter for about a day; deleting
    older ones is left to the retention schedule (created_at is indexed for it)."""

    MAX_LENGTH = 100

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=MAX_LENGTH)
    request_hash = models.CharField(
        max_length=64, help_text="SHA-256 of the method, path and body the key was first sent with."
    )
    status = models.PositiveSmallIntegerField(default=0)
    content_type = models.CharField(max_length=100, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    body = models.BinaryField(blank=True, default=b"")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="one_answer_per_submission_key")
        ]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self):
        return f"Submission key of {self.user} at {self.created_at:%Y-%m-%d %H:%M}"


class TwoFactorFailures(models.Model):
    """Wrong second-factor codes a person has typed since their last right one (app and backup
    codes alike). Kept in the database, not a cache, so every web process counts together and a
    restart forgets nothing. A right code deletes the row. Once `failure_count` reaches the limit,
    every code is refused unchecked until `locked_until`; a wrong code after that starts a fresh
    count. For the retention schedule: a row whose `last_failure_at` is old and whose
    `locked_until` has passed says only that someone once mistyped."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="two_factor_failures"
    )
    failure_count = models.PositiveSmallIntegerField(default=0)
    first_failure_at = models.DateTimeField(help_text="The first wrong code of this count.")
    last_failure_at = models.DateTimeField(db_index=True)
    locked_until = models.DateTimeField(
        null=True, blank=True, help_text="Codes are refused, unchecked, until then."
    )

    class Meta:
        verbose_name = "two-factor failures"
        verbose_name_plural = "two-factor failures"

    def __str__(self):
        return f"{self.failure_count} wrong two-factor code(s) by {self.user}"

    def paused_at(self, now) -> bool:
        return self.locked_until is not None and now < self.locked_until


class MicrosoftAccount(Device):
    """The Microsoft work account (Entra ID) a person signs in with. It is linked on their first
    Microsoft sign-in, found by their email address, and from then on by its object id, which
    Microsoft never changes or reuses: renaming the account keeps the link, and another account
    given the same name later does not take it over. Deleting the row unlinks it.

    It is also a django-otp device. When Microsoft confirms that the person used multi-factor
    authentication, the session keeps this device as its `otp_device`, so they count as verified
    for TwoFactorRequiredMiddleware without typing an app code. It accepts no typed code."""

    object_id = models.CharField(
        max_length=64, unique=True, help_text="The account's object id (oid) in the tenant."
    )
    linked_at = models.DateTimeField()
    last_signed_in_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user"], name="one_microsoft_account_per_user")
        ]

    def __str__(self):
        return f"Microsoft account of {self.user}"

    def verify_token(self, token):
        return False
