"""
Importing into a reader's library: BibTeX (Zotero, Mendeley, JabRef), CSV,
this library's JSON export, or a pasted list of arXiv ids and URLs.

    report = import_file(engine, user_id, "My Library.bib", fetch_limit=20)
    report.exit_status, report.summary(), [o.line() for o in report.outcomes]

Each entry is matched to a paper by its arXiv id (see `bibtex.arxiv_id` for the
fields read), else by its normalised exact title against stored papers.  Ids
the database lacks are fetched from the arXiv API, at most `fetch_limit`
(None: all; the web passes a few), the rest reported as not fetched.  Then,
in one transaction, the papers are saved: into the collections the file
names (a paperfeed export's keywords, CSV `collection`, JSON collections),
else into `collection`, else the Reading list.  Nothing already saved is lost:
a paper already in the library keeps its note and saved date (an empty note
is filled), and only gains collections.

Bad input never raises: a file over `max_bytes` (default `MAX_BYTES`, 25 MB),
one that is not text or in no known format, malformed entries, duplicate
keys: each is in the report, and `exit_status` says 0 all imported, 1 some
entries not imported, 2 nothing imported (the statuses of `paperfeed ingest`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, select, update

from paperfeed import db
from paperfeed.library import bibtex, csvfile, jsonfile, paste
from paperfeed.library import collection as coll
from paperfeed.library import fetch as remote
from paperfeed.library.csvfile import parse_time
from paperfeed.library.entries import (
    FETCHED,
    MATCHED,
    NOT_FETCHED,
    UNMATCHED,
    ImportEntry,
    Outcome,
)
from paperfeed.library.errors import LibraryError
from paperfeed.library.saved import MAX_NOTE, members, papers, saved
from paperfeed.models import PaperTitle
from paperfeed.names import title_hash

MAX_BYTES = 25 * 1024 * 1024
FORMATS = ("bibtex", "csv", "json", "ids")
_CHUNK = 500
titles = PaperTitle.__table__


@dataclass
class ImportReport:
    format: str = ""
    outcomes: list[Outcome] = field(default_factory=list)
    saved: int = 0  # papers new to the library
    updated: int = 0  # papers already saved that gained a collection or a note
    notices: list[str] = field(default_factory=list)  # about the whole import ("9,000 more ids not read")
    error: str | None = None  # the file could not be read at all

    @property
    def imported(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.imported]

    @property
    def fetched(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == FETCHED]

    @property
    def not_imported(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.imported]

    @property
    def exit_status(self) -> int:
        if self.error or not self.imported:
            return 2
        return 1 if self.not_imported or self.notices else 0

    def summary(self) -> str:
        if self.error:
            return f"nothing imported: {self.error}"
        by_how: dict[str, int] = {}
        for o in self.imported:
            by_how[o.how] = by_how.get(o.how, 0) + 1
        hows = ", ".join(f"{n} by {how}" for how, n in sorted(by_how.items(), key=lambda kv: -kv[1]))
        line = (
            f"{self.format}: {len(self.outcomes)} entries, {len(self.imported)} imported"
            f"{' (' + hows + ')' if hows else ''}, {len(self.fetched)} of them fetched from arXiv, "
            f"{len(self.not_imported)} not imported; {self.saved} new in the library, {self.updated} already there"
        )
        return line + "".join(f"; {n}" for n in self.notices)


def _fail(message: str, fmt: str = "") -> ImportReport:
    return ImportReport(format=fmt, error=message)


def _megabytes(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB"


def import_file(engine: Engine, user_id: int, path: str | Path, **options) -> ImportReport:
    """Import a file (its size is checked before it is read); options as `import_text`."""
    limit = options.get("max_bytes", MAX_BYTES)
    try:
        size = Path(path).stat().st_size
        if size > limit:
            return _fail(f"the file is {_megabytes(size)}; an import is at most {_megabytes(limit)}")
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        return _fail(f"cannot read {path}: {e.strerror or e}")
    return import_text(engine, user_id, data, **options)


def import_text(
    engine: Engine,
    user_id: int,
    data: bytes | str,
    *,
    fmt: str | None = None,
    collection: str | None = None,
    fetch_limit: int | None = None,
    max_bytes: int = MAX_BYTES,
    max_ids: int | None = None,
    timeout: float = remote.TIMEOUT,
) -> ImportReport:
    """Import `data` (a file's bytes or pasted text) into the reader's library.

    `fmt`: one of FORMATS, detected when None.  `collection`: the collection
    (a name, created when missing) for papers the file puts in none.
    `fetch_limit`: most papers fetched from arXiv (None: every one; 0: none).
    `max_ids`: most ids read from a pasted list (the web passes `paste.MAX_PASTE`).
    """
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "replace"))
    if size > max_bytes:
        return _fail(f"the file is {_megabytes(size)}; an import is at most {_megabytes(max_bytes)}")
    text = _decode(data)
    if text is None:
        return _fail("this is not a text file (BibTeX, CSV, JSON or a list of arXiv ids)")
    fmt = fmt or detect(text)
    if fmt is None:
        return _fail("no BibTeX entries, CSV header, paperfeed JSON or arXiv ids found: is this a BibTeX file?")
    if fmt not in FORMATS:
        return _fail(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    report = ImportReport(format=fmt)
    meta: list[dict] = []
    if fmt == "bibtex":
        parsed = bibtex.read(text)
        entries = parsed.entries
        if not entries:
            return _fail("no BibTeX entries found: is this a BibTeX file?", fmt)
    elif fmt == "csv":
        entries, problem = csvfile.read(text)
        if problem and not entries:
            return _fail(problem, fmt)
        if problem:
            report.notices.append(problem)
    elif fmt == "json":
        entries, meta, problem = jsonfile.read(text)
        if problem:
            return _fail(problem, fmt)
    else:
        entries, left = paste.read(text, max_ids)
        if left:
            report.notices.append(f"{left:,} more ids were not read: at most {max_ids:,} per paste (import the rest next)")
    if not entries and not meta:
        return _fail("the file holds no entries", fmt)
    plan = _resolve(engine, entries, report, repeats_expected=fmt == "csv")
    _fetch(engine, plan, report, fetch_limit, timeout)
    _save(engine, user_id, plan, report, meta, collection, by_slug=fmt == "json")
    report.outcomes.sort(key=lambda o: plan.order.get(id(o), 0))
    return report


def _decode(data: bytes | str) -> str | None:
    if isinstance(data, str):
        return data
    if b"\x00" in data[:8192]:
        return None
    for encoding in ("utf-8-sig", "cp1252"):  # old Mendeley and JabRef files are Windows-1252
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def detect(text: str) -> str | None:
    """The format of `text`: json, bibtex, csv or ids; None when it is none of them."""
    if jsonfile.looks_like_json(text):
        return "json"
    if bibtex.looks_like_bibtex(text):
        return "bibtex"
    if csvfile.looks_like_csv(text):
        return "csv"
    if paste.looks_like_ids(text):
        return "ids"
    return None


@dataclass
class _Plan:
    """The entries to save, merged per paper, with the outcome of each."""

    papers: dict[str, list[tuple[ImportEntry, Outcome]]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # ids to fetch, in order
    order: dict[int, int] = field(default_factory=dict)  # id(outcome) -> entry position


def _resolve(engine: Engine, entries: list[ImportEntry], report: ImportReport, repeats_expected: bool) -> _Plan:
    plan = _Plan()
    by_title: dict[str, list[str]] = {}
    with engine.connect() as conn:
        wanted = list({e.arxiv_id for e in entries if e.arxiv_id and not e.problem})
        stored = set()
        for at in range(0, len(wanted), _CHUNK):
            stored.update(conn.execute(
                select(papers.c.arxiv_id).where(papers.c.arxiv_id.in_(wanted[at : at + _CHUNK]))).scalars())
        hashes = list({h for e in entries if not e.arxiv_id and not e.problem and e.title and (h := title_hash(e.title))})
        for at in range(0, len(hashes), _CHUNK):
            for digest, arxiv_id in conn.execute(
                select(titles.c.title_hash, titles.c.arxiv_id).where(titles.c.title_hash.in_(hashes[at : at + _CHUNK]))
            ):
                by_title.setdefault(digest, []).append(arxiv_id)
    first_seen: dict[str, str] = {}
    for n, entry in enumerate(entries):
        outcome = Outcome(entry.location, entry.key, UNMATCHED, reason=entry.warning)
        plan.order[id(outcome)] = n
        report.outcomes.append(outcome)
        if entry.problem:
            outcome.status, outcome.reason = entry.problem_status, entry.problem
            continue
        arxiv_id, how = entry.arxiv_id, entry.how
        if not arxiv_id:
            found = sorted(by_title.get(title_hash(entry.title or "") or "", []))
            if len(found) == 1:
                arxiv_id, how = found[0], "title"
            elif found:
                outcome.reason = f"no arXiv id, and its title matches {len(found)} stored papers ({', '.join(found[:5])})"
                continue
            else:
                outcome.reason = (
                    "no arXiv id (eprint, arxivid, url, note, number, journal or an arXiv doi)"
                    + (", and no stored paper has its title" if entry.title else ", and no title")
                )
                continue
        outcome.arxiv_id, outcome.how = arxiv_id, how
        outcome.status = MATCHED if arxiv_id in stored or how == "title" else NOT_FETCHED
        if arxiv_id in first_seen and not repeats_expected:  # CSV: a row per collection of a paper
            outcome.reason = "; ".join(filter(None, [outcome.reason, f"the same paper as {first_seen[arxiv_id]}"]))
        if arxiv_id not in first_seen:
            first_seen[arxiv_id] = entry.location
            if outcome.status == NOT_FETCHED:
                plan.missing.append(arxiv_id)
        plan.papers.setdefault(arxiv_id, []).append((entry, outcome))
    return plan


def _fetch(engine: Engine, plan: _Plan, report: ImportReport, limit: int | None, timeout: float) -> None:
    todo = plan.missing if limit is None else plan.missing[: max(0, limit)]
    result = remote.fetch(engine, todo, timeout=timeout) if todo else remote.Fetched()
    for arxiv_id in plan.missing:
        for _, outcome in plan.papers[arxiv_id]:
            if arxiv_id in result.stored:
                outcome.status = FETCHED
            elif arxiv_id in result.unknown:
                outcome.status, outcome.reason = UNMATCHED, f"arXiv has no paper {arxiv_id}"
            elif arxiv_id in result.failed:
                outcome.status, outcome.reason = NOT_FETCHED, result.failed[arxiv_id]
            else:
                outcome.reason = (
                    f"{arxiv_id} is not stored here, and this import fetches at most {limit:,} papers from arXiv"
                    " (`paperfeed library import` fetches any number)"
                )
    for arxiv_id in list(plan.papers):
        plan.papers[arxiv_id] = [(e, o) for e, o in plan.papers[arxiv_id] if o.imported]
        if not plan.papers[arxiv_id]:
            del plan.papers[arxiv_id]


def _save(
    engine: Engine, user_id: int, plan: _Plan, report: ImportReport, meta: list[dict],
    default_name: str | None, by_slug: bool,
) -> None:
    if not plan.papers and not meta:
        return
    now = datetime.now(UTC)
    with db.writer(engine) as conn:
        slugs = _collections_from(conn, user_id, meta) if by_slug else {}
        names: dict[str, int] = {}

        def target(ref: str) -> int | None:
            if ref in slugs:
                return slugs[ref]
            if ref not in names:
                try:
                    names[ref] = coll.resolve(conn, user_id, ref, create=True).id
                except LibraryError as e:
                    report.notices.append(f"collection {ref[:60]!r} not made: {e}")
                    names[ref] = None
            return names[ref]

        default = [default_name] if default_name else None
        slug_of = {cid: slug for slug, cid in slugs.items()}
        ids = list(plan.papers)
        have: dict[str, str] = {}
        for at in range(0, len(ids), _CHUNK):
            have.update(conn.execute(select(saved.c.arxiv_id, saved.c.note).where(
                saved.c.user_id == user_id, saved.c.arxiv_id.in_(ids[at : at + _CHUNK]))).all())
        new_rows, notes, wanted = [], [], []
        for arxiv_id, group in plan.papers.items():
            refs: list[str] = []
            note, saved_at, added = "", None, {}
            for entry, outcome in group:
                refs += entry.collections if entry.collections is not None else []
                if entry.collections is None or default_name:
                    refs += default or []
                if entry.note and not note:
                    if len(entry.note) > MAX_NOTE:
                        outcome.reason = "; ".join(filter(None, [outcome.reason, f"its note is over {MAX_NOTE:,} characters: left out"]))
                    else:
                        note = entry.note.replace("\r\n", "\n").strip("\n")
                saved_at = saved_at or entry.saved_at
                added.update(entry.added_at)
            if not refs and all(e.collections is None for e, _ in group):
                refs = [coll.DEFAULT_NAME]
            targets = list(dict.fromkeys(t for r in dict.fromkeys(refs) if (t := target(r)) is not None))
            wanted += [(cid, arxiv_id, added.get(slug_of.get(cid, ""), now)) for cid in targets]
            if arxiv_id not in have:
                new_rows.append({"user_id": user_id, "arxiv_id": arxiv_id, "note": note, "saved_at": saved_at or now})
            elif note and not have[arxiv_id]:
                notes.append((arxiv_id, note))
            elif note and note != have[arxiv_id]:
                for _, outcome in group:
                    outcome.reason = "; ".join(filter(None, [outcome.reason, "already saved with another note: yours was kept"]))
        if new_rows:
            conn.execute(saved.insert(), new_rows)
        for arxiv_id, note in notes:
            conn.execute(update(saved).where(saved.c.user_id == user_id, saved.c.arxiv_id == arxiv_id).values(note=note))
        changed = {a for a, _ in notes}
        present = set()
        for at in range(0, len(ids), _CHUNK):
            present.update(conn.execute(select(members.c.collection_id, members.c.arxiv_id).where(
                members.c.arxiv_id.in_(ids[at : at + _CHUNK]),
                members.c.collection_id.in_({c for c, _, _ in wanted} or {-1}))).all())
        rows = [{"collection_id": c, "arxiv_id": a, "added_at": t} for c, a, t in wanted if (c, a) not in present]
        if rows:
            conn.execute(members.insert(), rows)
        changed |= {r["arxiv_id"] for r in rows}
        report.saved = len(new_rows)
        report.updated = len(changed - {r["arxiv_id"] for r in new_rows})


def _collections_from(conn, user_id: int, meta: list[dict]) -> dict[str, int]:
    """The collections of a JSON export, made where missing (as they were); slug -> id."""
    out: dict[str, int] = {}
    existing = {c.slug: c for c in coll.list_collections(conn, user_id)}
    for c in meta:
        slug = str(c["slug"])
        if slug in existing and not (c.get("is_default") and not existing[slug].is_default):
            out[slug] = existing[slug].id
            continue
        if c.get("is_default"):
            found = next((x for x in existing.values() if x.is_default), None)
            made = found is not None
            found = found or coll.default_collection(conn, user_id)
            out[slug] = found.id
            if made:
                continue
        else:
            try:
                found = coll.create_collection(conn, user_id, str(c["name"]), str(c.get("description") or ""),
                                               bool(c.get("is_public")), slug=slug)
            except LibraryError:
                found = coll.find_by_name(conn, user_id, str(c["name"]))
                if found is None:
                    continue
                out[slug] = found.id
                continue
            out[slug] = found.id
        # made by this import: as it was in the export
        values = {"name": coll.check_name(str(c["name"])), "description": coll.check_description(str(c.get("description") or "")),
                  "is_public": bool(c.get("is_public"))}
        for stamp in ("created_at", "updated_at"):
            if when := parse_time(str(c.get(stamp) or "")):
                values[stamp] = when
        conn.execute(update(coll.collections).where(coll.collections.c.id == found.id).values(**values))
    return out
