"""
What every import format is read into: one `ImportEntry` per BibTeX entry, CSV
row, JSON paper or pasted id, and the `Outcome` the import reports for it.

An entry names its paper by arXiv id (and says which field gave it: `how`) or
only by title; it may carry collections, a note and a saved date, and it says
where it was (`location`) so the report can point at it.  An entry with a
`problem` (malformed, duplicate key) is reported and skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# Outcome statuses: the first two are imported, the rest are not
MATCHED, FETCHED = "matched", "fetched"
UNMATCHED, NOT_FETCHED, DUPLICATE, MALFORMED = "unmatched", "not fetched", "duplicate", "malformed"


@dataclass
class ImportEntry:
    location: str  # "entry vaswani2017 (line 12)", "line 3", "paper 7", "item 4"
    key: str = ""  # the BibTeX key, or what was pasted
    arxiv_id: str | None = None  # canonical, without version
    how: str = ""  # the field the id came from: eprint, arxivid, url, note, number, journal, doi, ...
    title: str | None = None
    collections: list[str] | None = None  # names (slugs in a JSON export); None: the import's default
    note: str | None = None
    saved_at: datetime | None = None
    added_at: dict[str, datetime] = field(default_factory=dict)  # JSON exports: per collection slug
    problem: str | None = None  # why it cannot be imported at all
    problem_status: str = MALFORMED
    warning: str = ""  # imported, but something in it was ignored (a bad date)


@dataclass
class Outcome:
    location: str
    key: str
    status: str  # MATCHED, FETCHED, UNMATCHED, NOT_FETCHED, DUPLICATE, MALFORMED
    arxiv_id: str | None = None
    how: str = ""  # how it matched: "eprint", "title", ...
    reason: str = ""  # why it did not (or, imported, what was ignored)

    @property
    def imported(self) -> bool:
        return self.status in (MATCHED, FETCHED)

    def line(self) -> str:
        where = f"{self.location}" + (f" [{self.key}]" if self.key and self.key not in self.location else "")
        if self.imported:
            return f"{self.status}: {where} -> {self.arxiv_id} (by {self.how})" + (f"; {self.reason}" if self.reason else "")
        return f"{self.status}: {where}: {self.reason}"
