"""
Mojibake repair: titles, authors and abstracts that arrive double-encoded
(UTF-8 read as Latin-1 or Windows-1252 somewhere upstream, so "Lämmerzahl"
arrives as "LÃ¤mmerzahl") are fixed with ftfy as they are ingested, and each
repair is written to `<data dir>/repairs.jsonl` (paper id, field, before, after).

Only `ftfy.fix_encoding` runs, not `ftfy.fix_text`: the latter also straightens
curly quotes, unescapes HTML entities and folds ligatures, which would change
correct text.  And it runs only on text that looks like mojibake (`suspect`):
a character that UTF-8 lead bytes become, followed by one that continuation
bytes become.  ASCII text (nearly every record) costs one `str.isascii` call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from paperfeed import settings

FIELDS = ("title", "authors", "abstract")

# a UTF-8 lead byte (0xC2-0xF4) read as Latin-1, then a continuation byte (0x80-0xBF)
# read as Latin-1 (C1 controls, U+00A0-U+00BF) or as Windows-1252's own 0x80-0x9F
_SUSPECT = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
    "\u2013\u2014\u2018\u2019\u201a\u201c\u201d\u201e\u2020\u2021\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
)


@dataclass(frozen=True)
class Repair:
    """One repaired field of one paper (an author name: `authors`, the name alone)."""

    arxiv_id: str
    field: str
    before: str
    after: str


def suspect(text: str) -> bool:
    """Whether `text` may be mojibake: the cheap check before ftfy."""
    return not text.isascii() and _SUSPECT.search(text) is not None


def fix(text: str) -> str:
    """`text` with its mojibake repaired (itself when there is none)."""
    if not suspect(text):
        return text
    import ftfy  # only for the few texts that need it

    return ftfy.fix_encoding(text)


def repair_fields(arxiv_id: str, title: str | None, authors: list[str] | None, abstract: str | None):
    """(title, authors, abstract, repairs): the fields repaired, and what changed."""
    done: list[Repair] = []

    def one(field: str, value: str | None) -> str | None:
        if value is None:
            return None
        fixed = fix(value)
        if fixed != value:
            done.append(Repair(arxiv_id, field, value, fixed))
        return fixed

    title = one("title", title)
    if authors and not all(a.isascii() for a in authors):
        authors = [one("authors", a) for a in authors]
    abstract = one("abstract", abstract)
    return title, authors, abstract, done


def repair_record(rec) -> list[Repair]:
    """Repair a `PaperRecord`'s title, authors and abstract in place; the repairs made."""
    rec.title, rec.authors, rec.abstract, done = repair_fields(rec.arxiv_id, rec.title, rec.authors, rec.abstract)
    return done


class AppendLog:
    """An append-only JSON-lines file in the data directory, opened on the first entry
    (a run with nothing to say leaves no file); each entry is stamped with its time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._file = None

    def write(self, entry: dict) -> None:
        self.count += 1
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("ab")
        stamped = {"at": datetime.now(UTC).isoformat(timespec="seconds"), **entry}
        self._file.write(orjson.dumps(stamped) + b"\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class RepairLog(AppendLog):
    """Appends repairs to the data directory's repairs file."""

    def __init__(self, path: Path | None = None):
        super().__init__(path or settings.data_dir() / "repairs.jsonl")

    def add(self, repair: Repair) -> None:
        self.write({"arxiv_id": repair.arxiv_id, "field": repair.field,
                    "before": repair.before, "after": repair.after})
