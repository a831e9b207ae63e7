"""
Days, weeks and months, read by one module for pages, the JSON API and feeds:
the same inputs are refused everywhere, with the same year limits (issue #11:
the API answered 500 for the last week and month of year 9999).
"""

from __future__ import annotations

from datetime import date

import pytest

from paperfeed.web import periods
from tests.webdata import add_paper, client, soup

DAY = date(2026, 10, 1)


@pytest.fixture
def site(engine):
    add_paper(engine, "2610.00001", "A Thursday paper", day=DAY, upvotes=3)
    return client(engine)


@pytest.mark.parametrize("params", [{"month": "9999-12"}, {"week": "9999-W52"}])
def test_api_refuses_the_end_of_year_9999_with_400(site, params):
    r = site.get("/api/daily_papers", params=params)
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/json"
    error = r.json()["error"]
    assert f"{periods.FIRST_YEAR} to {periods.LAST_YEAR}" in error and "9999" in error


# (page path, API parameter, value): just inside and just outside the limits
INSIDE = [
    ("/papers/date/{}", "date", "1900-01-01"),
    ("/papers/date/{}", "date", "2200-12-31"),
    ("/papers/week/{}", "week", "1900-W01"),
    ("/papers/week/{}", "week", "2200-W52"),
    ("/papers/month/{}", "month", "1900-01"),
    ("/papers/month/{}", "month", "2200-12"),
]
OUTSIDE = [
    ("/papers/date/{}", "date", "1899-12-31"),
    ("/papers/date/{}", "date", "2201-01-01"),
    ("/papers/date/{}", "date", "9999-12-31"),
    ("/papers/week/{}", "week", "1899-W52"),
    ("/papers/week/{}", "week", "2201-W01"),
    ("/papers/week/{}", "week", "9999-W52"),
    ("/papers/month/{}", "month", "1899-12"),
    ("/papers/month/{}", "month", "2201-01"),
    ("/papers/month/{}", "month", "9999-12"),
]


@pytest.mark.parametrize(("page", "name", "value"), INSIDE)
def test_pages_and_api_accept_the_years_at_the_limits(site, page, name, value):
    assert site.get(page.format(value)).status_code == 200
    r = site.get("/api/daily_papers", params={name: value})
    assert r.status_code == 200 and r.json() == []


@pytest.mark.parametrize(("page", "name", "value"), OUTSIDE)
def test_pages_and_api_refuse_the_same_years(site, page, name, value):
    r = site.get(page.format(value))
    assert r.status_code == 400 and "out of range" in soup(r).select_one(".error-page").get_text()
    r = site.get("/api/daily_papers", params={name: value})
    assert r.status_code == 400 and value in r.json()["error"]


def test_feeds_use_the_same_limits(site):
    assert site.get("/feeds/daily.rss", params={"date": "2026-10-01"}).status_code == 200
    r = site.get("/feeds/daily.atom", params={"date": "2201-01-01"})
    assert r.status_code == 400 and "2201-01-01" in r.json()["error"]


def test_api_still_reads_a_week_and_a_month(site):
    for params in ({"week": "2026-W40"}, {"month": "2026-10"}, {"date": "2026-10-01"}):
        r = site.get("/api/daily_papers", params=params)
        assert r.status_code == 200 and [item["paper"]["id"] for item in r.json()] == ["2610.00001"]


def test_parsing_and_messages():
    assert periods.parse_week("2026-W40") == date(2026, 9, 28)  # a Monday
    assert periods.period_of("month", periods.parse_month("2026-02")).last == date(2026, 2, 28)
    assert periods.period_of("week", periods.parse_week("2200-W52")).last == date(2200, 12, 28)
    with pytest.raises(periods.PeriodError) as bad:
        periods.parse_day("2026-02-30")
    assert not bad.value.out_of_range
    assert bad.value.page_message == "“2026-02-30” is not a date; use YYYY-MM-DD."
    assert bad.value.page_title == "Not a date"
    assert bad.value.api_message == "date must be YYYY-MM-DD, got '2026-02-30'"
    with pytest.raises(periods.PeriodError) as far:
        periods.parse_month("9999-12")
    assert far.value.out_of_range and far.value.page_message == "That date is out of range."
    for text in ("2026-W05-1", "٢٠٢٦-١٠-٠١", "20261001"):  # ISO week dates, non-ASCII digits
        with pytest.raises(periods.PeriodError):
            periods.parse_day(text)


def test_the_schema_patterns_accept_exactly_what_the_parsers_accept():
    # the OpenAPI schema's patterns: a fuzzer trusts them both ways (issue #12), read by
    # Python (which generates) and by the JSON Schema validator schemathesis checks with
    import re

    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    cases = [
        (periods.DAY_PATTERN, periods.parse_day, "2026-10-03",
         [f"{{y:04d}}-{m:02d}-{d:02d}" for m in range(14) for d in range(33)]),
        (periods.WEEK_PATTERN, periods.parse_week, "2026-W40", [f"{{y:04d}}-W{w:02d}" for w in range(55)]),
        (periods.MONTH_PATTERN, periods.parse_month, "2026-10", [f"{{y:04d}}-{m:02d}" for m in range(14)]),
    ]
    years = [0, 1000, *range(periods.FIRST_YEAR - 2, periods.LAST_YEAR + 3), 9999]
    for pattern, parse, valid, forms in cases:
        compiled = re.compile(pattern)
        validator = jsonschema_rs.validator_for({"type": "string", "pattern": pattern})
        for year in years:
            for form in forms:
                text = form.format(y=year)
                try:
                    parse(text)
                    accepted = True
                except periods.PeriodError:
                    accepted = False
                assert bool(compiled.search(text)) == accepted == validator.is_valid(text), text
        assert validator.is_valid(valid) and not validator.is_valid(valid + "\n")  # "$" is ECMA's there: the end of the text
        with pytest.raises(periods.PeriodError):
            parse(valid + "\n")  # and the parsers agree (Python's "$" let a final newline in)
    assert periods.or_empty(periods.MONTH_PATTERN) == f"^(?:{periods.MONTH_PATTERN[1:-1]})?$"
    assert re.search(periods.or_empty(periods.MONTH_PATTERN), "")
