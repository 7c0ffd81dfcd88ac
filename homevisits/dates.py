import calendar
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or that month's last day if shorter: 31 Jan + 1 → 28 Feb."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def london_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants at which a Europe/London calendar day starts and ends (23 to 25 hours)."""
    start = datetime.combine(day, time.min, tzinfo=LONDON)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=LONDON)
    return start.astimezone(UTC), end.astimezone(UTC)


def week_start(day: date) -> date:
    """The Monday of the week containing `day`."""
    return day - timedelta(days=day.weekday())


def london_clock(moment: datetime, seconds: bool = False) -> str:
    """A time of day in London: 14:05, or 14:05:30."""
    return moment.astimezone(LONDON).strftime("%H:%M:%S" if seconds else "%H:%M")


def london_datetime(day: date, clock: time) -> datetime:
    """A wall-clock time on a London calendar day, as an aware UTC instant."""
    return datetime.combine(day, clock, tzinfo=LONDON).astimezone(UTC)
