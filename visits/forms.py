from datetime import date, datetime, time, timedelta

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from homevisits.dates import LONDON
from homevisits.people import person_name
from homevisits.phone import normalise_uk_phone

from .models import (
    AfterVisitPlan,
    OrderType,
    RiskLevel,
    VariationKind,
    VariationReason,
    VisitKind,
    VisitStatus,
)
from .outlook import normalise_principal_name
from .services import CaseDetails, VisitDetails

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
TIME_INPUT = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")

# Service error keys → the form fields that show them.
FIELD_FOR_ERROR = {"starts_at": "start_time", "ends_at": "end_time", "return_by": "return_time"}


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, user):
        return person_name(user)


class StaffMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, user):
        return person_name(user)


class VisitForm(forms.Form):
    household = forms.ModelChoiceField(queryset=None, empty_label="Choose a household")
    lead_worker = StaffChoiceField(queryset=None, label="Lead worker", required=False)
    accompanying = StaffMultipleChoiceField(
        queryset=None,
        required=False,
        label="Other staff going",
        widget=forms.CheckboxSelectMultiple,
    )
    purpose = forms.CharField(max_length=200, help_text="Why you are going, in a few words.")
    kind = forms.ChoiceField(choices=VisitKind.choices, initial=VisitKind.PLANNED)
    announced = forms.BooleanField(required=False, initial=True, label="The family expects us")
    day = forms.DateField(widget=DATE_INPUT, label="Date")
    start_time = forms.TimeField(widget=TIME_INPUT, label="Starts")
    end_time = forms.TimeField(widget=TIME_INPUT, label="Expected finish")
    after_plan = forms.ChoiceField(
        choices=[("", "Not decided"), *AfterVisitPlan.choices],
        required=False,
        label="Afterwards",
    )
    return_time = forms.TimeField(widget=TIME_INPUT, required=False, label="Back at the office by")
    contact_number = forms.CharField(
        max_length=20,
        required=False,
        help_text="Leave empty to use the lead worker's mobile.",
    )
    venue = forms.CharField(max_length=200, required=False, label="Venue, if not the home")
    concern_raised = forms.BooleanField(
        required=False, label="I have a concern about this visit (it will be tracked as high risk)"
    )
    concern_reason = forms.CharField(max_length=500, required=False, label="The concern")
    risk_recheck_confirmed = forms.BooleanField(
        required=False,
        label="Unscheduled visit: I have checked that the risk information is unchanged since "
        "the last contact (gives the go-ahead)",
    )
    hazards_acknowledged = forms.BooleanField(
        required=False, label="I have read the hazards and will follow the control measures"
    )
    second_person_override_reason = forms.CharField(
        max_length=500,
        required=False,
        label="Manager's override: why this visit goes without the second person that the "
        "risk assessment asks for",
        help_text="Leave empty unless the assessment asks for a second person and nobody else "
        "can go.",
    )

    def __init__(
        self,
        *args,
        households,
        staff,
        can_book_for_others: bool,
        user,
        can_override_second_person: bool = False,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.user = user
        if not can_override_second_person:
            del self.fields["second_person_override_reason"]
        self.fields["household"].queryset = households
        self.fields["accompanying"].queryset = staff
        if can_book_for_others:
            self.fields["lead_worker"].queryset = staff
            self.fields["lead_worker"].initial = user.pk
        else:
            # A worker's unscheduled visit waits for the office's go-ahead instead.
            del self.fields["lead_worker"]
            del self.fields["risk_recheck_confirmed"]

    def clean_contact_number(self):
        number = self.cleaned_data["contact_number"].strip()
        return normalise_uk_phone(number) if number else ""

    def clean(self):
        data = super().clean()
        day, start, end = data.get("day"), data.get("start_time"), data.get("end_time")
        if day and start and end:
            data["starts_at"] = _london(day, start)
            data["ends_at"] = _london(day, end)
            return_time = data.get("return_time")
            data["return_by"] = _london(day, return_time) if return_time else None
        if data.get("concern_raised") is False:
            data["concern_reason"] = ""
        return data

    def details(self) -> VisitDetails:
        data = self.cleaned_data
        lead = data.get("lead_worker") or self.user
        return VisitDetails(
            household=data["household"],
            lead_worker=lead,
            accompanying=[p for p in data["accompanying"] if p.pk != lead.pk],
            purpose=data["purpose"],
            kind=data["kind"],
            announced=data["announced"],
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            after_plan=data["after_plan"],
            return_by=data["return_by"],
            contact_number=data["contact_number"],
            venue=data["venue"],
            concern_raised=data["concern_raised"],
            concern_reason=data["concern_reason"],
            risk_recheck_confirmed=data.get("risk_recheck_confirmed", False),
            hazards_acknowledged=data["hazards_acknowledged"],
            # Without the field (not a manager), a manager's override already made stands.
            second_person_override_reason=data.get(
                "second_person_override_reason",
                self.initial.get("second_person_override_reason", ""),
            ),
        )


def _london(day, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=LONDON)


def initial_for(visit) -> dict:
    """Form values that show an existing visit in London time."""
    starts, ends = timezone.localtime(visit.starts_at), timezone.localtime(visit.ends_at)
    return {
        "household": visit.household_id,
        "lead_worker": visit.lead_worker_id,
        "accompanying": [p.pk for p in visit.accompanying.all()],
        "purpose": visit.purpose,
        "kind": visit.kind,
        "announced": visit.announced,
        "day": starts.date(),
        "start_time": starts.time(),
        "end_time": ends.time(),
        "after_plan": visit.after_plan,
        "return_time": timezone.localtime(visit.return_by).time() if visit.return_by else None,
        "contact_number": visit.contact_number_display,
        "venue": visit.venue,
        "concern_raised": visit.concern_raised,
        "concern_reason": visit.concern_reason,
        "risk_recheck_confirmed": visit.risk_recheck_confirmed_at is not None,
        "hazards_acknowledged": visit.hazards_acknowledged_at is not None,
        "second_person_override_reason": visit.second_person_override_reason,
    }


def default_booking_times(now: datetime) -> dict:
    """The next quarter hour from now, for an hour."""
    local = timezone.localtime(now) + timedelta(minutes=15)
    start = local.replace(minute=local.minute - local.minute % 15, second=0, microsecond=0)
    return {
        "day": start.date(),
        "start_time": start.time(),
        "end_time": (start + timedelta(hours=1)).time(),
    }


class CancelForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class OutcomeForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=[
            (VisitStatus.COMPLETED, "Completed"),
            (VisitStatus.TERMINATED, "Ended early"),
            (VisitStatus.NO_ACCESS, "No access: nobody answered or we were refused"),
        ],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        max_length=500, required=False, help_text="Required if the visit ended early."
    )
    rescheduled = forms.BooleanField(required=False, label="Ended early: it will be rescheduled")
    note = forms.CharField(
        max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Outcome"
    )
    case_record_reference = forms.CharField(max_length=40, required=False)


# A new calendar link lasts a year unless its owner picks a sooner date.
FEED_DEFAULT_DAYS = 365


class TeamCalendarChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, team):
        return f"{team.name} team calendar"


class CalendarFeedForm(forms.Form):
    team = TeamCalendarChoiceField(
        queryset=None, required=False, empty_label="My visits", label="Calendar"
    )
    expires_on = forms.DateField(widget=DATE_INPUT, label="Stops working on")

    def __init__(self, *args, teams, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        self.latest = today + timedelta(days=settings.CALENDAR_FEED_MAX_DAYS)
        self.fields["team"].queryset = teams
        self.fields["expires_on"].initial = min(
            today + timedelta(days=FEED_DEFAULT_DAYS), self.latest
        )
        self.fields["expires_on"].help_text = (
            "At midnight at the start of that day, UK time. At most "
            f"{settings.CALENDAR_FEED_MAX_DAYS} days from today; make a new link then."
        )

    def clean_expires_on(self):
        day = self.cleaned_data["expires_on"]
        if day <= self.today:
            raise forms.ValidationError("Choose a date after today.")
        if day > self.latest:
            raise forms.ValidationError(
                f"Choose a date no later than {self.latest:%-d %B %Y}: a calendar link lasts at "
                f"most {settings.CALENDAR_FEED_MAX_DAYS} days."
            )
        return day

    @property
    def expires_at(self) -> datetime:
        return datetime.combine(self.cleaned_data["expires_on"], time(0), tzinfo=LONDON)


# Youth justice: cases and their visit-frequency facts.

RISK_CHOICES = [("", "Not assessed (My Futures and out-of-court only)"), *RiskLevel.choices]


class CaseForm(forms.Form):
    reference = forms.CharField(
        max_length=40, label="Case reference", help_text="A case reference, never the child's name."
    )
    household = forms.ModelChoiceField(
        queryset=None, empty_label="Choose the child's household", label="Household"
    )
    case_manager = StaffChoiceField(queryset=None, label="Case manager")
    order_type = forms.ChoiceField(
        choices=[("", "Choose the order or intervention"), *OrderType.choices],
        label="Order or intervention",
    )
    rosh = forms.ChoiceField(choices=RISK_CHOICES, required=False, label="RoSH level")
    saw = forms.ChoiceField(choices=RISK_CHOICES, required=False, label="SaW level")
    child_protection_plan = forms.BooleanField(
        required=False, label="The child is subject to a child protection plan"
    )
    assessment_starts_on = forms.DateField(widget=DATE_INPUT, label="Assessment started on")
    assessment_ends_on = forms.DateField(
        widget=DATE_INPUT,
        required=False,
        label="Assessment due to end on",
        help_text="The home visit during the assessment is due by this date.",
    )
    released_on = forms.DateField(
        widget=DATE_INPUT,
        required=False,
        label="Release from custody (custodial sentences only)",
        help_text="Past or planned: a planned date schedules the visit after release.",
    )
    closed_on = forms.DateField(
        widget=DATE_INPUT, required=False, label="Case closed on", help_text="Leave empty if open."
    )

    def __init__(self, *args, households, staff, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["household"].queryset = households
        self.fields["case_manager"].queryset = staff
        if not editing:
            del self.fields["closed_on"]

    def details(self) -> CaseDetails:
        data = self.cleaned_data
        return CaseDetails(
            reference=data["reference"],
            household=data["household"],
            case_manager=data["case_manager"],
            order_type=data["order_type"],
            rosh=data["rosh"],
            saw=data["saw"],
            child_protection_plan=data["child_protection_plan"],
            assessment_starts_on=data["assessment_starts_on"],
            assessment_ends_on=data["assessment_ends_on"],
            released_on=data["released_on"],
            closed_on=data.get("closed_on"),
        )


def case_initial(case) -> dict:
    names = [
        "reference",
        "order_type",
        "rosh",
        "saw",
        "child_protection_plan",
        "assessment_starts_on",
        "assessment_ends_on",
        "released_on",
        "closed_on",
    ]
    return {
        **{name: getattr(case, name) for name in names},
        "household": case.household_id,
        "case_manager": case.case_manager_id,
    }


class ReviewDateForm(forms.Form):
    review_on = forms.DateField(widget=DATE_INPUT, label="AssetPlus review date")


class AddressChangeForm(forms.Form):
    moved_on = forms.DateField(
        widget=DATE_INPUT,
        label="Moved on",
        help_text="Update the household's address too, or link the case to the new household.",
    )


class VariationForm(forms.Form):
    kind = forms.ChoiceField(
        choices=VariationKind.choices, widget=forms.RadioSelect, label="What is agreed"
    )
    every_months = forms.IntegerField(
        min_value=1,
        max_value=12,
        required=False,
        label="Visit at least every (months)",
        help_text="For an alternative frequency only.",
    )
    reason = forms.ChoiceField(choices=VariationReason.choices, label="Reason")
    explanation = forms.CharField(
        max_length=500, widget=forms.Textarea(attrs={"rows": 2}), label="Why, in a few words"
    )
    arrangement = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Agreed arrangement or alternatives",
        help_text="For example: meet at the office every fortnight; joint visits with police.",
    )
    review_on = forms.DateField(
        widget=DATE_INPUT,
        label="Review by",
        error_messages={"required": "Set a review date: every variation is reviewed."},
    )


class OutlookConnectForm(forms.Form):
    """A team admin connects a member of staff's Outlook calendar."""

    user = StaffChoiceField(
        queryset=None, label="Member of staff", empty_label="Choose a member of staff"
    )
    principal_name = forms.CharField(
        label="Their Microsoft account",
        max_length=254,
        help_text="Their user principal name in Microsoft 365, usually their work email "
        "(name@your-council.gov.uk).",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def __init__(self, *args, members, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = members

    def clean_principal_name(self):
        try:
            return normalise_principal_name(self.cleaned_data["principal_name"])
        except ValidationError as error:
            raise ValidationError(error.message_dict["principal_name"]) from error
