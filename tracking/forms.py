import base64
import logging
import re
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from django import forms
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from homevisits.dates import add_months, london_datetime
from homevisits.forms import DayField, error_text
from homevisits.people import person_name

from . import services
from .models import ActionKind, CheckInKind, Outcome, SafeConfirmedHow
from .selectors import MAX_PERIOD_MONTHS, Period, RotaDay, month_containing

logger = logging.getLogger("homevisits.tracking")

EXTENSIONS = {"15": 15, "30": 30}


class CheckInForm(forms.Form):
    kind = forms.ChoiceField(choices=CheckInKind.choices)
    extend_minutes = forms.TypedChoiceField(
        choices=[(k, k) for k in EXTENSIONS], coerce=int, required=False, empty_value=None
    )
    # Checked by the service, which counts wrong ones: any text is passed on as typed.
    pin = forms.CharField(required=False, max_length=100, strip=True)
    # When the button was pressed, set by the page's script (static/js/check-in-queue.js), so
    # that a check-in sent late, after lost signal, keeps its time. The service checks it.
    pressed_at = forms.DateTimeField(
        required=False,
        error_messages={"invalid": "The time it was pressed must be a date and time."},
    )

    def clean(self):
        data = super().clean()
        if data.get("kind") == CheckInKind.EXTENDED and not data.get("extend_minutes"):
            raise forms.ValidationError("Choose how much longer you need.")
        return data


# A finish time earlier in the day than now is read as after midnight only within this, so that
# a mistyped 10:00 at 15:00 is refused rather than moved to tomorrow morning.
LATEST_FINISH_AFTER_MIDNIGHT = timedelta(hours=12)


class PhoneInForm(forms.Form):
    """The designated person records a worker's call: left safely, or a new finish time."""

    kind = forms.ChoiceField(
        choices=[
            (CheckInKind.LEFT_SAFELY, "Left safely"),
            (CheckInKind.EXTENDED, "New finish time"),
        ]
    )
    new_finish = forms.TimeField(required=False, label="New finish time")

    def __init__(self, *args, now: datetime, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = now

    def clean(self):
        data = super().clean()
        if data.get("kind") != CheckInKind.EXTENDED:
            return data
        finish = data.get("new_finish")
        if finish is None:
            raise forms.ValidationError("Give the new finish time, for example 15:30.")
        new_end = london_datetime(timezone.localdate(self.now), finish)
        after_midnight = london_datetime(timezone.localdate(self.now) + timedelta(days=1), finish)
        if new_end <= self.now and after_midnight - self.now <= LATEST_FINISH_AFTER_MIDNIGHT:
            new_end = after_midnight  # 00:30 typed at 23:50 is tonight, not this morning
        if new_end <= self.now:
            raise forms.ValidationError("The new finish time must be later than now.")
        data["new_end"] = new_end
        return data


class ManagerActionForm(forms.Form):
    kind = forms.ChoiceField(choices=ActionKind.choices, label="What you did")
    police_reference = forms.CharField(max_length=40, required=False)
    note = forms.CharField(max_length=500, required=False)


class ResolveForm(forms.Form):
    """Parses the manager's choice; nothing is chosen for them (the service says what is
    missing), so pressing Resolve by mistake closes nothing."""

    outcome = forms.ChoiceField(
        choices=[("", "Choose the outcome")] + Outcome.choices, required=False
    )
    safe_confirmed_how = forms.ChoiceField(
        choices=[("", "Choose how you know")] + SafeConfirmedHow.choices,
        required=False,
        label="How you know they are safe",
        help_text="Needed for “worker safe”.",
    )
    police_reference = forms.CharField(max_length=40, required=False)
    note = forms.CharField(max_length=500, required=False)


# The duty rota

NOT_A_MANAGER = "Choose one of the team's managers."


class RotaDayForm(forms.Form):
    """One day of the rota. The choices are the team's people who can take each duty; the day
    itself comes from the form's place in the week, never from the posted data."""

    designated_persons = forms.TypedMultipleChoiceField(
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Designated persons",
        error_messages={
            "invalid_choice": "Choose designated persons from the team's designated persons "
            "and managers."
        },
    )
    designated_manager = forms.TypedChoiceField(
        coerce=int,
        required=False,
        empty_value=None,
        label="Designated manager",
        error_messages={"invalid_choice": NOT_A_MANAGER},
    )
    backup_manager = forms.TypedChoiceField(
        coerce=int,
        required=False,
        empty_value=None,
        label="Backup manager",
        error_messages={"invalid_choice": NOT_A_MANAGER},
    )
    out_of_hours_manager = forms.TypedChoiceField(
        coerce=int,
        required=False,
        empty_value=None,
        label="Out-of-hours manager",
        error_messages={"invalid_choice": NOT_A_MANAGER},
    )

    MANAGER_FIELDS = ("designated_manager", "backup_manager", "out_of_hours_manager")

    def __init__(self, *args, people, **kwargs):
        super().__init__(*args, **kwargs)
        self.people = people
        self.fields["designated_persons"].choices = [
            (user.pk, person_name(user) + (" (manager)" if user in people.managers else ""))
            for user in people.designated
        ]
        self.fields["designated_persons"].widget.attrs["class"] = "form-check-input"
        managers = [("", "Nobody")] + [(user.pk, person_name(user)) for user in people.managers]
        for name in self.MANAGER_FIELDS:
            self.fields[name].choices = managers
            self.fields[name].widget.attrs["class"] = "form-select"

    def rota_day(self, day):
        """The cleaned choices as a RotaDay for `day`, with users in place of their ids."""
        by_pk = self.people.by_pk
        data = self.cleaned_data
        return RotaDay(
            day=day,
            designated_persons=[by_pk[pk] for pk in data["designated_persons"]],
            **{name: by_pk.get(data[name]) for name in self.MANAGER_FIELDS},
        )


RotaWeekFormSet = forms.formset_factory(
    RotaDayForm, extra=0, min_num=7, max_num=7, validate_min=True, validate_max=True
)


class RotaVersionForm(forms.Form):
    """The version of the week that the rota page showed, sent back with a save or a copy."""

    rota_version = forms.IntegerField(min_value=0, widget=forms.HiddenInput)


def loaded_rota_version(data) -> int | None:
    """The version the page was loaded at; None when the form did not send a valid one."""
    form = RotaVersionForm(data)
    return form.cleaned_data["rota_version"] if form.is_valid() else None


def rota_initial(week) -> list[dict]:
    return [
        {
            "designated_persons": [user.pk for user in entry.designated_persons],
            **{
                name: getattr(entry, name).pk if getattr(entry, name) else None
                for name in RotaDayForm.MANAGER_FIELDS
            },
        }
        for entry in week
    ]


SHORTER_INTERVALS = [timedelta(minutes=m) for m in (30, 45, 60, 90, 120, 180)]


class DayOutIntervalForm(forms.Form):
    """A shorter phone-in interval for today than the team's."""

    interval = forms.TypedChoiceField(
        label="Phone in more often today",
        coerce=lambda minutes: timedelta(minutes=int(minutes)),
        choices=[],
    )

    def __init__(self, *args, day, **kwargs):
        super().__init__(*args, **kwargs)
        team_interval = day.team.policy.phone_in_interval if day else timedelta(0)
        self.fields["interval"].choices = [
            (int(choice.total_seconds() // 60), _minutes_label(choice))
            for choice in SHORTER_INTERVALS
            if choice < team_interval
        ]


def _minutes_label(interval: timedelta) -> str:
    minutes = int(interval.total_seconds() // 60)
    return (
        f"every {minutes} minutes" if minutes < 60 or minutes % 60 else f"every {minutes // 60} h"
    )


PIN_INPUT = {"inputmode": "numeric", "pattern": "[0-9]*", "maxlength": 8, "autocomplete": "off"}


class CheckOutPinForm(forms.Form):
    """A worker sets their check-out PIN, and a duress PIN if they want one. Their password is
    asked first, so that someone else holding a signed-in phone cannot change them."""

    current_password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    pin = forms.CharField(
        label="New PIN",
        help_text="4 to 8 digits. You type it at “Left safely”.",
        widget=forms.PasswordInput(attrs=PIN_INPUT),
    )
    pin_again = forms.CharField(label="New PIN again", widget=forms.PasswordInput(attrs=PIN_INPUT))
    duress_pin = forms.CharField(
        label="Duress PIN (optional)",
        required=False,
        help_text="A different PIN for when someone makes you check out. Your phone shows the "
        "usual “checked out” message, and the office is alerted silently. Leave empty for none.",
        widget=forms.PasswordInput(attrs=PIN_INPUT),
    )
    duress_pin_again = forms.CharField(
        label="Duress PIN again", required=False, widget=forms.PasswordInput(attrs=PIN_INPUT)
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if not user.has_usable_password():  # signs in another way: nothing to ask
            del self.fields["current_password"]

    def clean_current_password(self):
        password = self.cleaned_data["current_password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your password.")
        return password

    def clean(self):
        data = super().clean()
        if data.get("pin") and data.get("pin") != data.get("pin_again"):
            self.add_error("pin_again", "The two PINs are not the same.")
        if data.get("duress_pin", "") != data.get("duress_pin_again", ""):
            self.add_error("duress_pin_again", "The two duress PINs are not the same.")
        return data


class HelpLocationForm(forms.Form):
    """A position from the worker's phone, as the browser reports it; the service checks that
    it makes sense."""

    latitude = forms.FloatField(
        error_messages={"required": "Latitude is missing.", "invalid": "Latitude must be a number."}
    )
    longitude = forms.FloatField(
        error_messages={
            "required": "Longitude is missing.",
            "invalid": "Longitude must be a number.",
        }
    )
    accuracy_m = forms.FloatField(
        error_messages={
            "required": "Accuracy is missing.",
            "invalid": "Accuracy must be a number of metres.",
        }
    )
    taken_at = forms.DateTimeField(
        error_messages={
            "required": "The position's time is missing.",
            "invalid": "The position's time must be a date and time, such as 2026-11-25T12:00:00Z.",
        }
    )

    @classmethod
    def sent_in(cls, data) -> bool:
        """Whether the request carries a position at all (a help call may come without)."""
        return any(data.get(name) not in (None, "") for name in cls.base_fields)


def keep_help_location(form: HelpLocationForm, visit, user, now) -> dict:
    """Keep the position sent with a help call that is already recorded. Returns what was
    wrong, by field (empty when kept). Nothing here may undo the help call, so an unexpected
    error is logged and reported, never raised (the service's savepoint undoes its writes)."""
    if not form.is_valid():
        return {name: list(problems) for name, problems in form.errors.items()}
    try:
        services.help_location_record(visit=visit, sender=user, now=now, **form.cleaned_data)
    except (ValidationError, PermissionDenied) as error:
        if hasattr(error, "error_dict"):
            return error.message_dict
        return {"location": [error_text(error)]}
    except Exception:
        logger.exception("Keeping the position of a help call for visit %s failed", visit.pk)
        return {"location": ["Your location could not be kept."]}
    return {}


class PushSubscriptionForm(forms.Form):
    """A browser's PushSubscription (its toJSON(), flattened): where its push service takes
    messages for this phone, and the keys that encrypt them for it."""

    endpoint = forms.CharField(max_length=2048)
    p256dh = forms.CharField(max_length=100)
    auth = forms.CharField(max_length=30)

    P256DH_BYTES = 65  # an uncompressed P-256 point
    AUTH_BYTES = 16

    def clean_endpoint(self):
        endpoint = self.cleaned_data["endpoint"]
        url = urlsplit(endpoint)
        host = (url.hostname or "").lower()
        if settings.PUSH_ALLOW_INSECURE_ENDPOINTS and host in LOOPBACK_HOSTS:
            return endpoint
        if url.scheme != "https" or not host or url.username or url.password:
            raise forms.ValidationError("The endpoint must be an https:// address.")
        if not any(host == h or host.endswith("." + h) for h in settings.PUSH_SERVICE_HOSTS):
            raise forms.ValidationError(
                "The endpoint is not a browser push service this site sends to."
            )
        return endpoint

    def clean_p256dh(self):
        raw = _base64url(self.cleaned_data["p256dh"], self.P256DH_BYTES, "p256dh")
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
        except ValueError:
            raise forms.ValidationError("p256dh is not a P-256 public key.") from None
        return _encoded(raw)

    def clean_auth(self):
        return _encoded(_base64url(self.cleaned_data["auth"], self.AUTH_BYTES, "auth"))


LOOPBACK_HOSTS = {"127.0.0.1", "localhost"}
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")


def _base64url(value: str, length: int, name: str) -> bytes:
    if not _BASE64URL.fullmatch(value):
        raise forms.ValidationError(f"{name} must be base64url.")
    unpadded = value.rstrip("=")
    try:
        raw = base64.urlsafe_b64decode(unpadded + "=" * (-len(unpadded) % 4))
    except ValueError:  # a length no encoding gives
        raw = b""
    if len(raw) != length:
        raise forms.ValidationError(f"{name} must be {length} bytes, base64url-encoded.")
    return raw


def _encoded(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class ReportPeriodForm(forms.Form):
    """The team report's period, sent by GET: the page, its print and its CSV share it. Left
    empty, a day defaults to this month's first or last."""

    first_day = DayField(label="From")
    last_day = DayField(label="To")

    def __init__(self, *args, today, **kwargs):
        super().__init__(*args, **kwargs)
        self.this_month = month_containing(today)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        first = data.get("first_day") or self.this_month.first_day
        last = data.get("last_day") or self.this_month.last_day
        if last < first:
            self.add_error("last_day", "The last day must be on or after the first day.")
        elif last >= add_months(first, MAX_PERIOD_MONTHS):
            self.add_error(
                "last_day",
                f"A report covers at most two years: choose a last day before "
                f"{add_months(first, MAX_PERIOD_MONTHS):%d/%m/%Y}.",
            )
        else:
            data["period"] = Period(first, last)
        return data

    def period(self) -> Period:
        """The chosen period (this month for an empty form); call after is_valid()."""
        if not self.is_bound:
            return self.this_month
        return self.cleaned_data["period"]
