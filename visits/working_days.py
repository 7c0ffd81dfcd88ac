"""Working days in England: Monday to Friday, except bank holidays.

Bank holidays come from the `holidays` package (country GB, subdivision ENG). Its default
`observed=True` includes substitute days, such as "Boxing Day (observed)" on Monday 28 December
2026 when Boxing Day falls on a Saturday, so those are skipped too.
"""

from datetime import date, timedelta
from functools import cache

import holidays


@cache
def _bank_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def add_working_days(day: date, count: int) -> date:
    """The `count`th working day after `day`; `day` itself never counts, working day or not."""
    if count < 1:
        raise ValueError("count must be at least 1")
    counted = 0
    while counted < count:
        day += timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return day
