"""iCalendar feeds for Outlook.

How much an event says is the visit's team's choice (TeamPolicy.feed_detail): by default who
is visited and where, with the staff going, their contact number and what they do afterwards,
as the guidance asks a calendar to record; or the postcode district only; or the time only.
An event never carries a child's details: not the purpose, concerns, notes or case references,
which stay on the secure visit page that every event links to.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from icalendar import Calendar, Event

from homevisits.dates import LONDON
from homevisits.models import FeedDetail
from homevisits.people import person_name
from homevisits.phone import display_uk_phone
from homevisits.postcode import postcode_district

from .models import AfterVisitPlan, Visit, VisitStatus

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


@dataclass(frozen=True)
class EventText:
    """What a calendar event says of a visit, at its team's level of detail. The ICS feed and
    the Outlook events written through Graph (visits/graph.py) both use it, so they agree."""

    summary: str
    location: str
    description: str
    url: str


def event_text(visit: Visit, *, site_url: str) -> EventText:
    page = f"{site_url.rstrip('/')}/visits/{visit.pk}/"
    summary, location, lines = _what_the_team_shows(visit, visit.team.policy.feed_detail)
    description = "\n".join([*lines, f"Details on the secure page: {page}"])
    return EventText(summary=summary, location=location, description=description, url=page)


def calendar_time(moment: datetime) -> datetime:
    """London time, except in the hour that repeats when the clocks go back: there a London
    time is ambiguous (RFC 5545 reads it as the first 01:30), so UTC is written instead."""
    local = moment.astimezone(LONDON)
    if local.replace(fold=0).utcoffset() != local.replace(fold=1).utcoffset():
        return moment.astimezone(UTC)
    return local


def _event(visit: Visit, *, site_url: str, now: datetime) -> Event:
    event = Event()
    event.add("uid", visit_uid(visit))
    event.add("sequence", visit.sequence)
    event.add("dtstamp", now)
    event.add("last-modified", visit.updated_at)
    event.add("dtstart", calendar_time(visit.starts_at))
    event.add("dtend", calendar_time(visit.ends_at))
    text = event_text(visit, site_url=site_url)
    event.add("summary", text.summary)
    if text.location:
        event.add("location", text.location)
    event.add("url", text.url)
    event.add("description", text.description)
    event.add("status", "CANCELLED" if visit.status == VisitStatus.CANCELLED else "CONFIRMED")
    return event


def _what_the_team_shows(visit: Visit, detail: str) -> tuple[str, str, list[str]]:
    """The event's summary, location and description lines at the team's level of detail."""
    household = visit.household
    staff = _staff_lines(visit)
    if detail == FeedDetail.TIME_ONLY:
        return "Home visit", "", staff[:1]
    if detail == FeedDetail.POSTCODE_DISTRICT:
        district = postcode_district(household.postcode)
        # A venue is free text that may be an address, so it is not shown at this level.
        where = "" if visit.venue else district
        at = "At: a place away from the home" if visit.venue else f"Area: {district}"
        return (
            f"Home visit: {household.display_name} ({district})",
            where,
            [f"Visiting: {household.display_name}", at, *staff],
        )
    address = ", ".join(
        [line.strip() for line in household.address.splitlines() if line.strip()]
        + [household.postcode]
    )
    return (
        f"Home visit: {household.display_name} ({household.postcode})",
        visit.venue or address,
        [
            f"Visiting: {household.display_name}",
            f"At: {visit.venue} (not at the home, {address})" if visit.venue else f"At: {address}",
            *staff,
        ],
    )


def _staff_lines(visit: Visit) -> list[str]:
    """Who is going, how to reach them, and what they do afterwards: about staff, never the
    family."""
    names = [person_name(visit.lead_worker)]
    names += [person_name(user) for user in visit.accompanying.all()]
    lines = [f"Staff: {', '.join(names)}"]
    if visit.contact_number:
        lines.append(f"Contact number: {display_uk_phone(visit.contact_number)}")
    if visit.after_plan == AfterVisitPlan.RETURN_TO_OFFICE and visit.return_by:
        lines.append(f"Back at the office by {visit.return_by.astimezone(LONDON):%H:%M}")
    elif visit.after_plan:
        lines.append(f"Afterwards: {AfterVisitPlan(visit.after_plan).label}")
    return lines
