"""iCalendar feeds for Outlook. Event text names the household and postcode, never a child."""

from datetime import UTC, datetime

from icalendar import Calendar, Event

from homevisits.dates import LONDON

from .models import Visit, VisitStatus

PRODUCT_ID = "-//homevisits//visit calendar//EN"


def visit_uid(visit: Visit) -> str:
    return f"visit-{visit.pk}@homevisits"


def build_calendar(*, visits: list[Visit], name: str, site_url: str, now: datetime) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", "Europe/London")
    for visit in visits:
        calendar.add_component(_event(visit, site_url=site_url, now=now))
    calendar.add_missing_timezones()
    return calendar.to_ical()


def _calendar_time(moment: datetime) -> datetime:
    """London time, except in the hour that repeats when the clocks go back: there a London
    time is ambiguous (RFC 5545 reads it as the first 01:30), so UTC is written instead."""
    local = moment.astimezone(LONDON)
    if local.replace(fold=0).utcoffset() != local.replace(fold=1).utcoffset():
        return moment.astimezone(UTC)
    return local


def _event(visit: Visit, *, site_url: str, now: datetime) -> Event:
    household = visit.household
    event = Event()
    event.add("uid", visit_uid(visit))
    event.add("sequence", visit.sequence)
    event.add("dtstamp", now)
    event.add("last-modified", visit.updated_at)
    event.add("dtstart", _calendar_time(visit.starts_at))
    event.add("dtend", _calendar_time(visit.ends_at))
    event.add("summary", f"Home visit: {household.display_name} ({household.postcode})")
    event.add("location", household.postcode)
    event.add("url", f"{site_url.rstrip('/')}/visits/{visit.pk}/")
    event.add(
        "description", f"Details on the secure page: {site_url.rstrip('/')}/visits/{visit.pk}/"
    )
    if visit.status == VisitStatus.CANCELLED:
        event.add("status", "CANCELLED")
    else:
        event.add("status", "CONFIRMED")
    return event
