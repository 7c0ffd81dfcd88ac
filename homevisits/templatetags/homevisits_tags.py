from datetime import timedelta

from django import template
from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html

from homevisits.idempotency import FORM_FIELD, new_submission_key
from homevisits.people import person_name as _person_name
from homevisits.phone import display_uk_phone

register = template.Library()


@register.filter
def uk_phone(e164: str) -> str:
    """+447123456789 → 07123 456789."""
    return display_uk_phone(e164)


@register.filter
def person_name(user) -> str:
    """A member of staff as the product names them; empty for nobody, so that
    `{{ rota.backup_manager|person_name|default:"Nobody" }}` works on an empty duty."""
    return _person_name(user) if user else ""


@register.filter
def alert_recipient(person) -> str:
    """Who an alert reaches: a member of staff, or the head of service (no account here)."""
    if not person:
        return ""
    if person.pk is None:
        return f"{_person_name(person)} (head of service, by SMS and email)"
    return _person_name(person)


@register.filter
def minutes(duration: timedelta) -> str:
    total = int(duration.total_seconds() // 60)
    return f"{total} minute{'s' if total != 1 else ''}"


@register.simple_tag
def time_after(duration: timedelta) -> str:
    """The London wall-clock time `duration` from now, as HH:MM."""
    return timezone.localtime(timezone.now() + duration).strftime("%H:%M")


@register.simple_tag
def submission_key() -> str:
    """A hidden one-time key for a form that writes: sent twice, the form is acted on once."""
    return format_html(
        '<input type="hidden" name="{}" value="{}">', FORM_FIELD, new_submission_key()
    )


@register.filter
def audit_record_url(event) -> str:
    """The page of the record an audit line is about, or "" (a search, a feed, an old line)."""
    url_name = settings.AUDIT_OBJECT_PAGES.get(event.object_type)
    if url_name is None or not event.object_reference.isdigit():
        return ""
    try:
        return reverse(url_name, args=[int(event.object_reference)])
    except NoReverseMatch:
        return ""


@register.filter
def audit_household_url(household_ref) -> str:
    """Who looked at this household: the page of the app that keeps households."""
    return reverse(settings.AUDIT_HOUSEHOLD_PAGE, args=[household_ref]) if household_ref else ""


@register.simple_tag(takes_context=True)
def with_page(context, param: str, number: int) -> str:
    """This page's query string with `param` set to `number`, every other parameter kept
    (a list's page, with the filter and the other lists' pages as they were)."""
    query = context["request"].GET.copy()
    query[param] = number
    return f"?{query.urlencode()}"
