"""Tracking: who is on duty, check-ins, the escalation ladder and its notification outbox.

All ladder state lives here, in the database. Redis only carries "go and look" messages; every
sweep recomputes what is due from these tables.
"""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q

from homevisits.models import Team
from homevisits.people import person_name
from visits.models import Visit


class DutyRota(models.Model):
    """Who is on duty for a team on one (London) calendar day."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="rota_days")
    day = models.DateField()
    designated_persons = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="designated_days"
    )
    designated_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    backup_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    out_of_hours_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["team", "day"]
        constraints = [models.UniqueConstraint(fields=["team", "day"], name="one_rota_per_day")]

    def __str__(self):
        return f"{self.team} rota for {self.day}"


class RotaWeek(models.Model):
    """The latest save of a team's rota for one week. Its version goes up with every save; the
    rota page carries the version it showed, so a save from a page that is out of date (a
    colleague saved the week meanwhile) is refused instead of overwriting their rota."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="rota_weeks")
    week_start = models.DateField(help_text="The Monday of the week.")
    version = models.PositiveIntegerField(default=0)
    saved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    saved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "week_start"], name="one_rota_week_per_team")
        ]

    def __str__(self):
        return f"{self.team} rota for the week from {self.week_start}, version {self.version}"


class CheckInKind(models.TextChoices):
    ARRIVED = "arrived", "Arrived"
    LEFT_SAFELY = "left_safely", "Left safely"
    RETURNED = "returned", "Back at the office"
    EXTENDED = "extended", "Extended"
    NEED_HELP = "need_help", "I need help"
    STILL_SAFE = "still_safe", "Still safe (between visits)"


CLOSING_CHECK_INS = (CheckInKind.LEFT_SAFELY, CheckInKind.RETURNED)


class Channel(models.TextChoices):
    WEB = "web", "Web"
    API = "api", "API"
    PHONE_IN = "phone_in", "Phone-in recorded by the office"


class CheckIn(models.Model):
    """A sign of life: at a visit, or (visit empty) an interval phone-in between visits."""

    visit = models.ForeignKey(
        Visit, null=True, blank=True, on_delete=models.CASCADE, related_name="check_ins"
    )
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=12, choices=CheckInKind.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    # When it was made: for a check-in the worker's phone kept while it had no signal, when it
    # was pressed there; `received_at` is when it reached us (empty on check-ins from before).
    at = models.DateTimeField()
    received_at = models.DateTimeField(null=True, blank=True)
    new_end = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)

    # Not stored: True on the earlier check-in a repeated one is answered with.
    already_recorded = False

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["visit", "at"]), models.Index(fields=["worker", "at"])]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.visit_id or 'between visits'})"


class Step(models.IntegerChoices):
    ATTEMPT_1 = 1, "First contact attempt"
    ATTEMPT_2 = 2, "Second contact attempt"
    ATTEMPT_3 = 3, "Third contact attempt"
    MANAGER = 4, "Designated manager alerted"
    BACKUP = 5, "Backup manager alerted"


class Outcome(models.TextChoices):
    WORKER_SAFE = "worker_safe", "Worker safe"
    WORKER_FOUND = "worker_found", "Worker found"
    POLICE_INVOLVED = "police_involved", "Police involved"


class SafeConfirmedHow(models.TextChoices):
    """How a manager knows the worker is safe before closing the ladder as "worker safe"."""

    SPOKE_TO_THEM = "spoke", "Spoke to them"
    SAW_THEM = "saw", "Saw them"
    THEY_PHONED_IN = "phoned_in", "They phoned in"


class ClosedBy(models.TextChoices):
    CHECK_IN = "check_in", "Worker checked in"
    PHONE_IN = "phone_in", "Phone-in recorded"
    REACHED_SAFE = "reached_safe", "Reached, and safe"
    EXTENDED = "extended", "New finish time given"
    MANAGER = "manager", "Resolved by a manager"
    SUPERSEDED = "superseded", "Replaced by an urgent “I need help” alert"


class Cause(models.TextChoices):
    VISIT_DEADLINE = "visit", "Visit deadline missed"
    MISSED_INTERVAL = "interval", "Missed interval check-in"


class Duress(models.TextChoices):
    """A silent alarm: the office and managers see it; the worker's phone never does."""

    DURESS_PIN = "pin", "Duress PIN given at check-out"
    CODE_WORD = "code_word", "Code word used on a call to the office"
    WRONG_PINS = "wrong_pins", "Wrong check-out PIN, again and again"


class Escalation(models.Model):
    """One run of the ladder for one missed deadline: a visit's, or a worker's interval
    check-in on a day out (then there is no visit)."""

    cause = models.CharField(max_length=8, choices=Cause.choices, default=Cause.VISIT_DEADLINE)
    visit = models.ForeignKey(
        Visit, null=True, blank=True, on_delete=models.PROTECT, related_name="escalations"
    )
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="escalations"
    )
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="+")
    due_at = models.DateTimeField(help_text="The deadline that was missed.")
    opened_at = models.DateTimeField()
    step = models.PositiveSmallIntegerField(choices=Step.choices)
    # When the sweep must act next; None once there is nothing more the clock can do.
    next_action_at = models.DateTimeField(null=True, blank=True)
    urgent = models.BooleanField(default=False, help_text="The worker pressed “I need help”.")
    duress = models.CharField(
        max_length=10,
        choices=Duress.choices,
        blank=True,
        help_text="A silent alarm (urgent too): never shown or sent to the worker.",
    )
    out_of_hours = models.BooleanField(default=False)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.CharField(max_length=12, choices=ClosedBy.choices, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    safe_confirmed_how = models.CharField(
        "how the worker was confirmed safe",
        max_length=10,
        choices=SafeConfirmedHow.choices,
        blank=True,
    )
    police_reference = models.CharField(max_length=40, blank=True)
    resolution_note = models.CharField(max_length=500, blank=True)
    # A step that raised is retried with a growing pause (next_action_at is pushed back), so
    # that it never holds back the others; the board and /healthz show it meanwhile.
    failures = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    step_due_at = models.DateTimeField(
        null=True, blank=True, help_text="While retrying: when the pending step fell due."
    )

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["visit"],
                condition=Q(closed_at__isnull=True),
                name="one_open_escalation_per_visit",
            ),
            models.UniqueConstraint(fields=["visit", "due_at"], name="one_escalation_per_deadline"),
            # Interval check-ins apply only between visits (at a visit, its own deadline does),
            # so a visit ladder and an interval ladder never chase one missed deadline twice.
            models.UniqueConstraint(
                fields=["worker"],
                condition=Q(closed_at__isnull=True, cause="interval"),
                name="one_open_interval_escalation_per_worker",
            ),
            models.UniqueConstraint(
                fields=["worker", "due_at"],
                condition=Q(cause="interval"),
                name="one_escalation_per_missed_interval",
            ),
            models.CheckConstraint(
                condition=Q(cause="interval", visit__isnull=True)
                | Q(cause="visit", visit__isnull=False),
                name="escalation_cause_matches_visit",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_action_at"],
                condition=Q(closed_at__isnull=True, next_action_at__isnull=False),
                name="escalation_due_idx",
            ),
        ]

    def __str__(self):
        about = f"visit {self.visit_id}" if self.visit_id else "missed interval"
        return f"Escalation {self.pk} ({about}, step {self.step})"

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def outcome_text(self) -> str:
        """The manager's outcome as people read it: "Worker safe (spoke to them)"."""
        if not self.outcome:
            return ""
        detail = self.get_safe_confirmed_how_display().lower() if self.safe_confirmed_how else ""
        if self.police_reference:
            detail = f"police reference {self.police_reference}"
        return f"{self.get_outcome_display()} ({detail})" if detail else self.get_outcome_display()


class SkipReason(models.TextChoices):
    SWEEP_DOWN = "sweep_down", "missed: the sweep was not running"
    RECORDED_LATE = "recorded_late", "missed: the deadline was recorded after it had passed"
    LADDER_ERROR = "ladder_error", "missed: an error held the ladder back"


class EscalationStep(models.Model):
    """Proof that a step happened, once: the unique constraint makes a second one impossible.
    A contact attempt whose time had passed when the ladder caught up (after an outage, or a
    deadline recorded late) is kept as missed, with the reason, and was never sent."""

    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="steps")
    step = models.PositiveSmallIntegerField(choices=Step.choices)
    at = models.DateTimeField(help_text="When it was taken; for a missed step, when it fell due.")
    skipped_reason = models.CharField(max_length=16, choices=SkipReason.choices, blank=True)

    class Meta:
        ordering = ["at", "step"]
        constraints = [
            models.UniqueConstraint(fields=["escalation", "step"], name="each_step_once")
        ]

    def __str__(self):
        return f"{self.get_step_display()} at {self.at:%H:%M:%S}"


class AttemptResult(models.TextChoices):
    NO_ANSWER = "no_answer", "No answer"
    VOICEMAIL = "voicemail", "Voicemail (not contact)"
    REACHED_SAFE = "reached_safe", "Reached: safe"
    REACHED_NEEDS_HELP = "needs_help", "Reached: needs help"


class ContactAttempt(models.Model):
    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="attempts")
    attempt = models.PositiveSmallIntegerField()
    result = models.CharField(max_length=12, choices=AttemptResult.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self):
        return f"Attempt {self.attempt}: {self.get_result_display()}"


class ActionKind(models.TextChoices):
    CALLED_WORKER = "called_worker", "Called the worker"
    CALLED_NEXT_OF_KIN = "called_nok", "Called next of kin"
    CALLED_POLICE = "called_police", "Called the police"
    OTHER = "other", "Other"


class ManagerAction(models.Model):
    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="actions")
    kind = models.CharField(max_length=16, choices=ActionKind.choices)
    note = models.CharField(max_length=500, blank=True)
    police_reference = models.CharField(max_length=40, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self):
        return self.get_kind_display()


class NotificationChannel(models.TextChoices):
    IN_APP = "in_app", "In the app"
    SMS = "sms", "SMS"
    EMAIL = "email", "Email"
    PUSH = "push", "Push alert"


class NotificationKind(models.TextChoices):
    CHECK_IN_PROMPT = "check_in_prompt", "Please check in"
    CALL_PROMPT = "call_prompt", "Call the worker"
    MANAGER_ALERT = "manager_alert", "Manager alert"
    BACKUP_ALERT = "backup_alert", "Backup manager alert"
    STAND_DOWN = "stand_down", "Stand down"
    CONFIRMATION = "confirmation", "Check-in confirmed to the worker"
    HANDOVER = "handover", "Out-of-hours handover"
    GO_AHEAD = "go_ahead", "Go-ahead answer"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Waiting to send"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Notification(models.Model):
    """The outbox. A sender leases a row (sending_until); an expired lease is taken again, so a
    crash mid-send delays a message but never loses it. The row id is the provider reference.

    A push alert that cannot be delivered is replaced by an SMS: a new row for the same step,
    with `fallback_for` pointing at the failed push (one replacement at most)."""

    escalation = models.ForeignKey(
        Escalation, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    handover = models.ForeignKey(
        "Handover", null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    # The office's answer to an unscheduled visit's go-ahead request.
    visit = models.ForeignKey(
        Visit, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    step = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=16, choices=NotificationKind.choices)
    # Empty for a contact without an account here (the team's head of service): then
    # recipient_name says who it is, and the row is an SMS or an email, never in the app.
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="notifications",
    )
    recipient_name = models.CharField(max_length=120, blank=True)
    channel = models.CharField(max_length=8, choices=NotificationChannel.choices)
    address = models.CharField(max_length=254, blank=True)
    body = models.CharField(max_length=600)
    status = models.CharField(
        max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    created_at = models.DateTimeField()
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sending_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    fallback_for = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="fallback"
    )

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["escalation", "step", "kind", "recipient", "channel"],
                name="one_notification_per_step_recipient_channel",
            ),
            models.UniqueConstraint(
                fields=["escalation", "step", "kind", "channel"],
                condition=Q(recipient__isnull=True),
                name="one_contact_notification_per_step_channel",
            ),
            models.CheckConstraint(
                condition=Q(recipient__isnull=False) | ~Q(channel="in_app"),
                name="in_app_notification_has_a_user",
            ),
            models.UniqueConstraint(
                fields=["handover", "recipient", "channel"],
                name="one_handover_notification_per_channel",
            ),
            models.UniqueConstraint(
                fields=["visit", "kind", "recipient", "channel"],
                condition=Q(visit__isnull=False),
                name="one_visit_notification_per_kind_channel",
            ),
            models.CheckConstraint(
                condition=Q(escalation__isnull=False, handover__isnull=True, visit__isnull=True)
                | Q(escalation__isnull=True, handover__isnull=False, visit__isnull=True)
                | Q(escalation__isnull=True, handover__isnull=True, visit__isnull=False),
                name="notification_about_one_thing",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "sending"]),
                name="notification_due_idx",
            ),
        ]

    def __str__(self):
        return (
            f"{self.get_kind_display()} to {self.recipient_label} by {self.get_channel_display()}"
        )

    @property
    def recipient_label(self) -> str:
        """The person's name, for a user or for a contact without an account."""
        return person_name(self.recipient) if self.recipient_id else self.recipient_name

    @property
    def reference(self) -> str:
        return f"homevisits-{self.pk}"


class PushSubscription(models.Model):
    """A browser's Web Push subscription: where to send push alerts for this user on one phone.
    The push service's endpoint is unique: the same phone signed in as someone else moves the
    subscription to them, so one person's alerts never reach another's phone."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions"
    )
    endpoint = models.CharField(max_length=2048, unique=True)
    p256dh = models.CharField("the browser's public key (p256dh)", max_length=100)
    auth = models.CharField("the browser's auth secret", max_length=30)
    created_at = models.DateTimeField()
    last_success_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"Push subscription {self.pk} of {self.user}"


class Heartbeat(models.Model):
    """One row per periodic job; /healthz reports how long ago the sweep last ran."""

    name = models.CharField(max_length=20, primary_key=True)
    last_run_at = models.DateTimeField()
    last_found = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.name} at {self.last_run_at}"


class DutyEnd(models.Model):
    """An out-of-hours manager going off duty. Going off while workers have not phoned in
    needs a reason, kept here with the visits that were still open."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    ended_at = models.DateTimeField()
    still_open = models.ManyToManyField(Visit, blank=True, related_name="+")
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-ended_at"]
        indexes = [models.Index(fields=["team", "-ended_at"])]

    def __str__(self):
        return f"{self.manager} off duty at {self.ended_at:%Y-%m-%d %H:%M}"


class DayOutInterval(models.Model):
    """A worker's own, shorter phone-in interval for one day out."""

    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    interval = models.DurationField()
    chosen_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["worker", "day"], name="one_interval_per_worker_day"),
            models.CheckConstraint(
                condition=Q(interval__gt=timedelta(0)), name="day_out_interval_positive"
            ),
        ]

    def __str__(self):
        return f"{self.worker} every {self.interval} on {self.day}"


class PhoneInDay(models.Model):
    """A worker's day out with interval phone-ins, and its next phone-in deadline, stored: so
    that the sweep finds a missed phone-in with one indexed probe (like Visit.alert_after)
    instead of working out everyone's day from their visits, check-ins and ladders each time.

    One row per worker and London day on which they have a visit of a team with phone-in
    intervals (cancelled ones aside). The services that change what a day is made of keep it:
    booking, changing or cancelling a visit, a visit's outcome, a risk decision and the team's
    policy (through their apps' follower settings), a check-in, a ladder closing and a chosen
    interval (services/phone_ins.py). Its value always equals what
    selectors.phone_in_days_worked_out() works out afresh; the property test checks that."""

    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    starts_at = models.DateTimeField(help_text="When the day's first visit starts.")
    # The day is over once its last visit is (left safely, back at the office, or finished).
    last_visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="+")
    last_heard_at = models.DateTimeField(
        help_text="The latest word from the worker that day: a check-in or a ladder closed "
        "(never before the day starts)."
    )
    interval = models.DurationField(
        help_text="The shortest interval of the day's teams, or the worker's own shorter one."
    )
    grace = models.DurationField(help_text="The shortest grace period of the day's teams.")
    # Empty when there is nothing to phone in for: the day is over, or nothing on it is
    # monitored and the team does not ask everyone to phone in.
    next_phone_in_at = models.DateTimeField(null=True, blank=True)
    # next_phone_in_at plus the grace period: when the sweep opens a ladder for it.
    alert_after = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["worker", "day"], name="one_phone_in_day_per_worker")
        ]
        indexes = [
            models.Index(
                fields=["day", "alert_after"],
                condition=Q(alert_after__isnull=False),
                name="phone_in_due_idx",
            ),
        ]

    def __str__(self):
        return f"{self.worker} out on {self.day}"


class Handover(models.Model):
    """At the close of office hours, monitoring of everyone still out passes to the
    out-of-hours manager on the rota; once per team and day."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    at = models.DateTimeField()
    out_of_hours_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    still_out = models.ManyToManyField(Visit, blank=True, related_name="+")

    class Meta:
        ordering = ["-at"]
        constraints = [
            models.UniqueConstraint(fields=["team", "day"], name="one_handover_per_team_day")
        ]

    def __str__(self):
        return f"{self.team} handover on {self.day}"


class CheckOutPin(models.Model):
    """A worker's PIN for "Left safely" when their team asks for one, and their duress PIN:
    hashed with Django's password hashers, never kept as typed."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="checkout_pin"
    )
    pin_hash = models.CharField(max_length=128)
    duress_pin_hash = models.CharField(max_length=128, blank=True)
    set_at = models.DateTimeField()

    def __str__(self):
        return f"Check-out PIN of {self.user}"


class WrongPin(models.Model):
    """A check-out refused for a wrong PIN: counted per visit, so that repeated tries raise
    the silent alarm."""

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="+")
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["visit", "worker"])]

    def __str__(self):
        return f"Wrong PIN for visit {self.visit_id} at {self.at:%H:%M:%S}"


class DuressReport(models.Model):
    """Each signal of duress behind an escalation's silent alarm: who gave it, and when."""

    escalation = models.ForeignKey(
        Escalation, on_delete=models.CASCADE, related_name="duress_reports"
    )
    kind = models.CharField(max_length=10, choices=Duress.choices)
    at = models.DateTimeField()
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    check_in = models.ForeignKey(
        CheckIn,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="The check-in given with the duress PIN.",
    )

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.get_kind_display()} at {self.at:%H:%M:%S}"


class HelpLocation(models.Model):
    """Where the worker's phone was when they asked for help, if they let it say. Sent with the
    help call, or after it (never holding it back), and kept with the urgent escalation."""

    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="locations")
    help_call = models.ForeignKey(CheckIn, on_delete=models.CASCADE, related_name="+")
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    latitude = models.DecimalField(max_digits=8, decimal_places=6)
    longitude = models.DecimalField(max_digits=9, decimal_places=6)
    accuracy_m = models.FloatField("accuracy (metres)")
    taken_at = models.DateTimeField(help_text="When the phone took the fix.")
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["taken_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__gte=-90, latitude__lte=90)
                & Q(longitude__gte=-180, longitude__lte=180)
                & Q(accuracy_m__gte=0, accuracy_m__lte=100_000),
                name="help_location_in_range",
            ),
        ]

    def __str__(self):
        return f"Location for escalation {self.escalation_id} at {self.taken_at:%H:%M:%S}"
