"""
`paperfeed ingest arxiv --categories cs.LG,cs.CL [--since DATE]`: the new and
updated arXiv papers of some categories, for a daily timer.

It harvests arXiv's OAI-PMH interface (`oai.fetch`) rather than querying the
search API (`atom.fetch`), because a timer must not miss papers:

- The API's dates are submission dates, and a paper becomes visible only when
  it is announced, up to three days later (Friday's submissions appear on
  Sunday night).  "Submitted since yesterday" therefore skips every paper
  announced today but submitted before yesterday.  OAI-PMH datestamps are the
  day a record changed in the repository, so `from=` the day the previous
  complete harvest began catches every new paper and every new version.
- The frontier is kept in `job_state` by `oai.fetch`, so a timer that missed
  days (machine off, arXiv down) catches up by itself, and a killed harvest
  resumes from its last stored page.
- arXiv names OAI-PMH as the way to keep a copy up to date; the API is meant
  for searches.

The price: OAI-PMH sets are archives (`cs`, `math`, `physics:hep-th`), not
categories, so the whole archive is read and records outside the categories
asked for are dropped here (cs is a few thousand records a day).  Cross-lists
count: a stat.ML paper cross-listed to cs.LG is in set `cs` and kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import Engine

from paperfeed import settings
from paperfeed.ingest import oai
from paperfeed.ingest.records import PaperRecord, Reject
from paperfeed.ingest.run import Checkpoint, RejectLog, Summary, ingest, record_run

# arXiv's OAI-PMH sets (ListSets): groups that are sets themselves, and the
# physics archives, which are sub-sets `physics:<archive>`.
GROUPS = {"cs", "econ", "eess", "math", "q-bio", "q-fin", "stat"}
PHYSICS = {
    "astro-ph", "cond-mat", "gr-qc", "hep-ex", "hep-lat", "hep-ph", "hep-th",
    "math-ph", "nlin", "nucl-ex", "nucl-th", "physics", "quant-ph",
}
_CATEGORY = re.compile(r"^[a-z-]+(\.[A-Za-z-]+)?$")
_DAYS_AGO = re.compile(r"^(\d{1,4})d$")


class BadCategory(ValueError):
    pass


def oai_set(category: str) -> str:
    """The OAI-PMH set holding `category` (`cs.LG` → `cs`, `hep-th` → `physics:hep-th`)."""
    if not _CATEGORY.match(category):
        raise BadCategory(f"{category!r} is not an arXiv category such as cs.LG or hep-th")
    archive = category.split(".", 1)[0]
    if archive in GROUPS:
        return archive
    if archive in PHYSICS:
        return f"physics:{archive}"
    raise BadCategory(f"unknown arXiv archive {archive!r} (in {category!r})")


def parse_categories(value: str) -> list[str]:
    """`cs.LG,cs.CL` (commas or spaces) as a list, each checked with `oai_set`."""
    categories = [c for c in re.split(r"[,\s]+", value.strip()) if c]
    if not categories:
        raise BadCategory("no categories given")
    for c in categories:
        oai_set(c)
    return list(dict.fromkeys(categories))


def parse_since(value: str, today: date | None = None) -> date:
    """`YYYY-MM-DD`, `today`, `yesterday` or `Nd` (N days ago), in UTC like arXiv's datestamps."""
    today = today or datetime.now(UTC).date()
    value = value.strip().lower()
    if value == "today":
        return today
    if value == "yesterday":
        return today - timedelta(days=1)
    if m := _DAYS_AGO.match(value):
        return today - timedelta(days=int(m.group(1)))
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r}: expected YYYY-MM-DD, today, yesterday or Nd (days ago)") from None


def matcher(categories: list[str]) -> Callable[[list[str] | None], bool]:
    """Whether a record's categories meet the wanted ones: equal, or inside a wanted
    archive (`cs` means every cs.*, `astro-ph` also astro-ph.GA)."""
    wanted = set(categories)
    archives = tuple(f"{c}." for c in categories if "." not in c)

    def keep(found: list[str] | None) -> bool:
        if not found:  # no categories: the set put it here; let the runner judge the record
            return True
        return any(c in wanted or c.startswith(archives) for c in found)

    return keep


@dataclass
class Harvest:
    """What `harvest` did: the ingest summary plus the records of other categories skipped."""

    summary: Summary = field(default_factory=Summary)
    skipped: int = 0
    sets: list[str] = field(default_factory=list)  # "cs from 2026-11-21"

    @property
    def nothing_new(self) -> bool:
        return self.summary.new == 0 and self.summary.updated == 0

    def line(self) -> str:
        out = f"{self.summary.line()}, other categories skipped {self.skipped} ({'; '.join(self.sets)})"
        return out + ("; no new papers" if self.nothing_new else "")


def state_key(base: str, set_spec: str) -> str:
    """The `job_state` key `oai.fetch` keeps a harvest's frontier under (same formula)."""
    return f"oai:{base}:{set_spec}:{oai.DEFAULT_PREFIX}"[:200]


def harvest(
    categories: list[str],
    since: date | None,
    engine: Engine,
    batch_size: int | None = None,
    rejects: RejectLog | None = None,
) -> Harvest:
    """Harvest every set holding `categories`, keeping only papers in them.

    `since` None continues each set from where its last complete harvest began
    (yesterday when it was never harvested); a date re-reads from that day.
    """
    base = settings.get("arxiv_oai_url")
    keep = matcher(categories)
    result = Harvest()
    own_log = rejects is None
    rejects = rejects or RejectLog()
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    try:
        for set_spec in dict.fromkeys(oai_set(c) for c in categories):
            params = {"verb": "ListRecords", "metadataPrefix": oai.DEFAULT_PREFIX, "set": set_spec}
            start = since
            if start is None and not oai.load_state(engine, state_key(base, set_spec)).get("last"):
                start = yesterday
            if start is not None:
                params["from"] = start.isoformat()
            url = f"{base}?{urlencode(params, safe=':')}"
            result.sets.append(f"{set_spec} from {start or 'the last harvest'}")
            try:
                items = _only(oai.fetch(url, url, engine), keep, result)
                ingest(items, engine, rejects, result.summary, url, batch_size)
            except OSError as e:  # arXiv unreachable after retries: report, try the next set
                result.summary.failed_inputs.append(url)
                rejects.add(Reject(url, "request", str(e) or type(e).__name__))
    finally:
        if own_log:
            rejects.close()
    record_run(engine, result.summary)
    return result


def _only(
    items: Iterable[PaperRecord | Reject | Checkpoint], keep, result: Harvest
) -> Iterator[PaperRecord | Reject | Checkpoint]:
    for item in items:
        if isinstance(item, PaperRecord) and not keep(item.categories):
            result.skipped += 1
            continue
        yield item
