"""
The periods the daily lists are read by: a day (`YYYY-MM-DD`), an ISO week
(`YYYY-Www`) and a month (`YYYY-MM`), as pages, the JSON API and the feeds
accept them, with one set of year limits for all three.

A text that is not a period raises `PeriodError`, which carries what each
front says about it: the pages a sentence for their 400 page, the API and feeds
a Hugging Face-style parameter message.  Years outside `FIRST_YEAR`..`LAST_YEAR`
are refused before any date arithmetic, so the last week or month of year 9999
is a 400, not an overflow.

`DAY_PATTERN`, `WEEK_PATTERN` and `MONTH_PATTERN` are the same grammar as
regular expressions, for the OpenAPI schema: a text matches one exactly when
its parser accepts it (real dates and ISO weeks only, within the year limits),
so a client, or a fuzzer, reading the schema knows which values are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

FIRST_YEAR = 1900
LAST_YEAR = 2200
# matched with fullmatch: "$" would also let a trailing newline through
_DAY = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_WEEK = re.compile(r"([0-9]{4})-W([0-9]{2})")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_FORMS = {  # parameter: (the page's noun, its form for a page, its form for the API)
    "date": ("date", "use YYYY-MM-DD.", "date must be YYYY-MM-DD"),
    "week": ("week", "use YYYY-Www, e.g. 2026-W40.", "week must be an ISO week YYYY-Www"),
    "month": ("month", "use YYYY-MM.", "month must be YYYY-MM"),
}


class PeriodError(ValueError):
    """`text` is not a `kind` ("date", "week" or "month"), or its year is out of range."""

    def __init__(self, kind: str, text: str, out_of_range: bool = False) -> None:
        self.kind, self.text, self.out_of_range = kind, text, out_of_range
        super().__init__(self.api_message)

    @property
    def page_title(self) -> str | None:
        return None if self.out_of_range else f"Not a {_FORMS[self.kind][0]}"

    @property
    def page_message(self) -> str:
        if self.out_of_range:
            return "That date is out of range."
        noun, form, _ = _FORMS[self.kind]
        return f"“{self.text[:40]}” is not a {noun}; {form}"

    @property
    def api_message(self) -> str:
        if self.out_of_range:
            return f"{self.kind} must be in the years {FIRST_YEAR} to {LAST_YEAR}, got {self.text[:40]!r}"
        return f"{_FORMS[self.kind][2]}, got {self.text[:40]!r}"


def today() -> date:
    """Today in UTC, the calendar the daily lists are kept in."""
    return datetime.now(UTC).date()


def _year(kind: str, text: str, year: str) -> int:
    if not FIRST_YEAR <= int(year) <= LAST_YEAR:
        raise PeriodError(kind, text, out_of_range=True)
    return int(year)


def parse_day(text: str) -> date:
    m = _DAY.fullmatch(text)
    if m:
        year = _year("date", text, m[1])
        try:
            return date(year, int(m[2]), int(m[3]))
        except ValueError:
            pass
    raise PeriodError("date", text)


def parse_week(text: str) -> date:
    """The Monday of an ISO week `YYYY-Www`."""
    m = _WEEK.fullmatch(text)
    if m:
        year = _year("week", text, m[1])
        try:
            return date.fromisocalendar(year, int(m[2]), 1)
        except ValueError:
            pass
    raise PeriodError("week", text)


def parse_month(text: str) -> date:
    """The first day of a month `YYYY-MM`."""
    m = _MONTH.fullmatch(text)
    if m and 1 <= int(m[2]) <= 12:
        return date(_year("month", text, m[1]), int(m[2]), 1)
    raise PeriodError("month", text)


def _years(keep=lambda year: True) -> str:
    return "|".join(str(y) for y in range(FIRST_YEAR, LAST_YEAR + 1) if keep(y))


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _long(year: int) -> bool:
    """Whether ISO year `year` has a week 53."""
    return date(year, 12, 28).isocalendar()[1] == 53


_ANY_YEAR = "(?:19[0-9]{2}|2[01][0-9]{2}|2200)"  # FIRST_YEAR..LAST_YEAR, checked by a test
_MONTHS = "(?:0[1-9]|1[0-2])"
DAY_PATTERN = (
    f"^(?:{_ANY_YEAR}-(?:{_MONTHS}-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)"
    f"|(?:0[13578]|1[02])-31)|(?:{_years(_leap)})-02-29)$"
)
WEEK_PATTERN = f"^(?:{_ANY_YEAR}-W(?:0[1-9]|[1-4][0-9]|5[0-2])|(?:{_years(_long)})-W53)$"
MONTH_PATTERN = f"^{_ANY_YEAR}-{_MONTHS}$"


def or_empty(pattern: str) -> str:
    """`pattern` (one of the above), or the empty text: the API and the feeds read an
    empty parameter (`?date=`) as one not given."""
    return f"^(?:{pattern[1:-1]})?$"


def week_name(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def month_end(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


@dataclass
class Period:
    kind: str  # "day", "week" or "month"
    first: date
    last: date  # inclusive

    @property
    def url(self) -> str:
        return url_of(self.kind, self.first)

    @property
    def label(self) -> str:
        if self.kind == "day":
            return f"{self.first:%A}, {self.first.day} {self.first:%B %Y}"
        if self.kind == "week":
            return f"Week {self.first.isocalendar()[1]}, {self.first.isocalendar()[0]} ({self.first.day} {self.first:%b} – {self.last.day} {self.last:%b})"
        return f"{self.first:%B %Y}"


def url_of(kind: str, day: date) -> str:
    if kind == "week":
        return f"/papers/week/{week_name(day)}"
    if kind == "month":
        return f"/papers/month/{day:%Y-%m}"
    return f"/papers/date/{day.isoformat()}"


def period_of(kind: str, day: date) -> Period:
    """The day, week or month that contains `day`."""
    if kind == "week":
        monday = day - timedelta(days=day.weekday())
        return Period("week", monday, monday + timedelta(days=6))
    if kind == "month":
        first = day.replace(day=1)
        return Period("month", first, month_end(first))
    return Period("day", day, day)

