from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator

from .models import ApiTokenScope, AuditAction, OfficeHours, TeamPolicy, Weekday
from .people import person_name

DURATION_HELP = "Hours, minutes and seconds, for example 00:05:00 for five minutes."


class TeamPolicyForm(forms.ModelForm):
    class Meta:
        model = TeamPolicy
        fields = [
            "grace_period",
            "attempt_interval",
            "manager_escalation_delay",
            "backup_escalation_delay",
            "phone_in_interval",
            "interval_for_everyone",
            "monitor_all_visits",
            "pairs_only",
            "case_record_system",
            "risk_info_stale_after_days",
            "risk_review_months",
            "feed_detail",
            "emergency_phone",
            "head_of_service_name",
            "head_of_service_mobile",
            "head_of_service_email",
            "checkout_pin_required",
            "code_word",
        ]
        widgets = {"feed_detail": forms.RadioSelect}
        labels = {
            "risk_info_stale_after_days": "Risk information goes stale after (days)",
            "risk_review_months": "Default risk assessment review period (months)",
        }

    def __init__(self, *args, sees_code_word: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not sees_code_word:  # for the team's designated persons and managers only
            del self.fields["code_word"]
        else:
            self.fields["code_word"].widget.attrs["autocomplete"] = "off"
        for name in ("grace_period", "attempt_interval", "manager_escalation_delay"):
            self.fields[name].help_text += " " + DURATION_HELP
        self.fields["backup_escalation_delay"].help_text += " " + DURATION_HELP
        self.fields["phone_in_interval"].help_text += " " + DURATION_HELP


TIME_INPUT = forms.TimeInput(attrs={"type": "time", "class": "form-control"}, format="%H:%M")


class OfficeHoursForm(forms.Form):
    """One weekday's office hours; an unticked day is closed."""

    weekday = forms.TypedChoiceField(choices=Weekday.choices, coerce=int, widget=forms.HiddenInput)
    is_open = forms.BooleanField(required=False, label="Open")
    opens_at = forms.TimeField(required=False, label="Opens", widget=TIME_INPUT)
    closes_at = forms.TimeField(required=False, label="Closes", widget=TIME_INPUT)

    def clean(self):
        data = super().clean()
        if data.get("is_open"):
            opens, closes = data.get("opens_at"), data.get("closes_at")
            if not opens or not closes:
                raise forms.ValidationError("Give opening and closing times for an open day.")
            if closes <= opens:
                self.add_error("closes_at", "The office must close after it opens.")
        return data

    @property
    def weekday_label(self):
        return Weekday(int(self["weekday"].value())).label


OfficeHoursFormSet = forms.formset_factory(
    OfficeHoursForm, extra=0, min_num=7, max_num=7, validate_min=True, validate_max=True
)


def office_hours_initial(policy: TeamPolicy) -> list[dict]:
    by_day = {hours.weekday: hours for hours in policy.office_hours.all()}
    rows = []
    for day in Weekday:
        hours = by_day.get(day.value)
        rows.append(
            {
                "weekday": day.value,
                "is_open": hours is not None,
                "opens_at": hours.opens_at
                if hours
                else OfficeHours._meta.get_field("opens_at").default,
                "closes_at": hours.closes_at
                if hours
                else OfficeHours._meta.get_field("closes_at").default,
            }
        )
    return rows


def show_service_error(form, error: ValidationError, field_names: dict | None = None) -> None:
    """Show a service's ValidationError on the form: under its field where the form has one
    (`field_names` maps service names to form names), otherwise at the top of the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for key, messages in error.message_dict.items():
        name = (field_names or {}).get(key, key)
        form.add_error(name if name in form.fields else None, messages)


def error_text(error: Exception) -> str:
    """A ValidationError's or PermissionDenied's message, as one sentence for a flash message."""
    return " ".join(getattr(error, "messages", [str(error)]))


class TwoFactorCodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=20,
        help_text="The 6-digit code from your authenticator app, or one of your backup codes.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}
        ),
    )


class TwoFactorSetupForm(forms.Form):
    code = forms.CharField(
        label="6-digit code from the app",
        max_length=10,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=60, label="What is this token for?")
    scope = forms.ChoiceField(
        choices=ApiTokenScope.choices,
        initial=ApiTokenScope.ALL,
        widget=forms.RadioSelect,
        label="What it may do",
        help_text="A phone that only checks in needs nothing more than check-ins.",
    )
    days = forms.IntegerField(label="Works for (days)", min_value=1)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        longest = settings.API_TOKEN_DAYS
        self.fields["days"].validators.append(MaxValueValidator(longest))
        self.fields["days"].widget.attrs["max"] = longest
        self.fields["days"].initial = longest
        self.fields["days"].help_text = f"At most {longest}. Choose fewer for a short-lived use."


FIRST_YEAR, LAST_YEAR = 2000, 2100


class DayField(forms.DateField):
    """A day typed as 31/03/2026 (or 2026-03-31), in a plain text box so that a wrong one stays
    on screen beside its error."""

    input_formats = ["%d/%m/%Y", "%Y-%m-%d"]
    default_error_messages = {"invalid": "Enter a date like 31/03/2026."}

    def __init__(self, **kwargs):
        widget = forms.TextInput(attrs={"inputmode": "numeric", "placeholder": "dd/mm/yyyy"})
        super().__init__(required=False, widget=widget, **kwargs)

    def validate(self, value):
        super().validate(value)
        if value and not FIRST_YEAR <= value.year <= LAST_YEAR:
            raise ValidationError(f"Enter a date between {FIRST_YEAR} and {LAST_YEAR}.")


class AuditLogFilterForm(forms.Form):
    """The filters of a team's audit log. Sent by GET: the page and its CSV export share them."""

    person = forms.TypedChoiceField(coerce=int, empty_value=None, required=False)
    action = forms.ChoiceField(choices=[("", "Any action"), *AuditAction.choices], required=False)
    household = forms.TypedChoiceField(coerce=int, empty_value=None, required=False)
    first_day = DayField(label="From")
    last_day = DayField(label="To")

    def __init__(self, *args, people, households: dict[int, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].choices = [("", "Anyone"), *((p.pk, person_name(p)) for p in people)]
        self.fields["household"].choices = [("", "Any household"), *households.items()]

    def clean(self):
        data = super().clean()
        first, last = data.get("first_day"), data.get("last_day")
        if first and last and last < first:
            self.add_error("last_day", "The last day must be on or after the first day.")
        return data

    def filters(self) -> dict:
        """The selector's arguments (homevisits.selectors.audit_log)."""
        data = self.cleaned_data
        return {
            "actor_id": data.get("person"),
            "action": data.get("action", ""),
            "household_ref": data.get("household"),
            "first_day": data.get("first_day"),
            "last_day": data.get("last_day"),
        }

    def summary(self) -> str:
        """The filters, kept with the audit line of an export: ids rather than names, so that
        the line says the same after a person or household is renamed or anonymised."""
        values = {name: self.cleaned_data.get(name) for name in self.fields}
        return " ".join(
            f"{name}={value.isoformat() if hasattr(value, 'isoformat') else value}"
            for name, value in values.items()
            if value not in (None, "")
        )
