"""
BibTeX in and out: reading the exports of Zotero, Mendeley and JabRef, and
writing a library back as entries they (and this module) read.

Reading uses bibtexparser 2 (string macros resolved, outer braces removed); a
malformed entry or a duplicate key becomes an entry with a `problem`, never an
exception.  The arXiv id is looked for where exporters put it, in this order:
`eprint` (with `archivePrefix` arXiv or none), `arxivid`/`arxiv`, an arXiv
DOI (`10.48550/arXiv.2106.09685`), `url`, `note = {arXiv:…}` (Zotero), `number`
(Zotero's `arXiv:…`), and `journal = {arXiv preprint arXiv:…}` (Google
Scholar, Mendeley); versions are dropped.  An entry without one keeps its
title, which the importer matches against stored papers.

Writing follows arXiv's own BibTeX (`@misc` with `eprint`, `archivePrefix`,
`primaryClass`, `url`), adds the reader's collections in `keywords` and the
note in `annote`, and starts with a `@comment{paperfeed-library …}` line: a
file that has it is read back with its keywords as collection names, while a
Zotero file's keywords (its tags) are not turned into collections.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

import bibtexparser
from bibtexparser.model import DuplicateBlockKeyBlock, DuplicateFieldKeyBlock

from paperfeed import ids
from paperfeed.library.entries import DUPLICATE, ImportEntry

MARKER = "paperfeed-library"
_ID = r"(\d{4}\.\d{4,5}(?:v\d+)?|[a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?)"
_IN_URL = re.compile(rf"arxiv\.org/(?:abs|pdf|html)/{_ID}", re.IGNORECASE)
_PREFIXED = re.compile(rf"arxiv\s*:\s*{_ID}", re.IGNORECASE)
_DOI = re.compile(rf"10\.48550/arxiv\.{_ID}", re.IGNORECASE)
_BLOCK_START = re.compile(r"^\s*@\s*[A-Za-z]+\s*[{(]", re.MULTILINE)


@dataclass
class BibFile:
    entries: list[ImportEntry]
    ours: bool  # written by `write`: keywords are collection names


def looks_like_bibtex(text: str) -> bool:
    return _BLOCK_START.search(text[:1_000_000]) is not None


def _canon(value: str) -> str | None:
    try:
        return ids.canonical(value)
    except ids.BadArxivId:
        return None


def arxiv_id(fields: dict[str, str]) -> tuple[str, str] | None:
    """(canonical id, field it came from) of an entry's fields (keys lower-cased), or None."""
    prefix = fields.get("archiveprefix", "").strip().lower()
    eprint = fields.get("eprint", "").strip()
    if eprint and prefix in ("", "arxiv"):
        found = _canon(eprint) or _search(_PREFIXED, eprint) or _search(_IN_URL, eprint)
        if found:
            return found, "eprint"
    for name in ("arxivid", "arxiv", "arxiv_id"):
        if fields.get(name) and (found := _canon(fields[name].strip()) or _search(_PREFIXED, fields[name])):
            return found, "arxivid"
    if found := _search(_DOI, fields.get("doi", "")):
        return found, "doi"
    for name in ("url", "link", "howpublished", "eprint"):
        if found := _search(_IN_URL, fields.get(name, "")):
            return found, "url"
    if found := _search(_PREFIXED, fields.get("note", "")) or _search(_IN_URL, fields.get("note", "")):
        return found, "note"
    number = fields.get("number", "").strip()
    if number:
        arxiv_venue = "arxiv" in " ".join(fields.get(k, "") for k in ("journal", "publisher", "archiveprefix")).lower()
        if found := _search(_PREFIXED, number) or (_canon(number) if arxiv_venue else None):
            return found, "number"
    for name in ("journal", "journaltitle", "booktitle", "howpublished"):
        if found := _search(_PREFIXED, fields.get(name, "")):
            return found, "journal"
    return None


def _search(pattern: re.Pattern, text: str) -> str | None:
    m = pattern.search(text or "")
    return _canon(m.group(1)) if m else None


def split_keywords(value: str) -> list[str]:
    """`keywords = {A, {B, with a comma}}` as ["A", "B, with a comma"]: commas split outside braces."""
    out, depth, current = [], 0, []
    for ch in value:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch in ",;" and depth == 0:
            out.append("".join(current))
            current = []
            continue
        current.append(ch)
    out.append("".join(current))
    return [" ".join(k.replace("{", "").replace("}", "").split()) for k in out if k.strip(" {}")]


class _Collect(logging.Handler):
    """bibtexparser logs why it gave up on a block; the report says it instead of standard error."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.why: dict[int, str] = {}  # block start line (0-based) -> message

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        m = re.search(r"\(line (\d+)\) aborted on line (\d+)[^:]*:\s*(.*)", message, re.DOTALL)
        if m:
            self.why[int(m.group(1))] = f"{' '.join(m.group(3).split())} (line {int(m.group(2)) + 1})"


def _parse(text: str):
    logger = logging.getLogger("bibtexparser")
    collect, propagate = _Collect(), logger.propagate
    logger.addHandler(collect)
    logger.propagate = False
    try:
        return bibtexparser.parse_string(text), collect.why
    finally:
        logger.removeHandler(collect)
        logger.propagate = propagate


def read(text: str) -> BibFile:
    """Every entry of a BibTeX text, in file order, problems included."""
    library, why = _parse(text)
    ours = any(c.comment.strip().startswith(MARKER) for c in library.comments if hasattr(c, "comment"))
    found: list[tuple[int, ImportEntry]] = []
    for entry in library.entries:
        found.append((entry.start_line or 0, _entry(entry, ours)))
    for block in library.failed_blocks:
        line = (block.start_line or 0) + 1
        if isinstance(block, DuplicateBlockKeyBlock):
            problem = f"duplicate key {block.key!r}: only the first entry with it was read"
            found.append((line - 1, ImportEntry(f"entry {block.key} (line {line})", block.key, problem=problem,
                                                problem_status=DUPLICATE)))
        elif isinstance(block, DuplicateFieldKeyBlock):
            inner = block.ignore_error_block
            key = getattr(inner, "key", "")
            found.append((line - 1, ImportEntry(f"entry {key} (line {line})", key,
                                                problem=f"malformed: {block.error}".split(". Note:")[0])))
        else:
            first = (block.raw or "").strip().splitlines()[0][:80] if (block.raw or "").strip() else ""
            reason = why.get(line - 1, "an unclosed brace or quote, or a missing comma?")
            found.append((line - 1, ImportEntry(f"line {line}", first, problem=f"malformed entry: {reason}")))
    found.sort(key=lambda pair: pair[0])
    return BibFile([e for _, e in found], ours)


def _entry(entry, ours: bool) -> ImportEntry:
    fields = {f.key.lower(): f.value if isinstance(f.value, str) else str(f.value) for f in entry.fields}
    location = f"entry {entry.key} (line {(entry.start_line or 0) + 1})"
    found = arxiv_id(fields)
    collections = split_keywords(fields["keywords"]) if ours and "keywords" in fields else ([] if ours else None)
    note = fields.get("annote")
    return ImportEntry(
        location=location,
        key=entry.key,
        arxiv_id=found[0] if found else None,
        how=found[1] if found else "",
        title=" ".join(fields.get("title", "").split()) or None,
        collections=collections,
        note=note,
    )


# --- writing ---

_UNBALANCED = re.compile(r"[{}]")


def _value(text: str, keep_lines: bool = False) -> str:
    """`text` as a braced BibTeX value: unbalanced braces dropped (BibTeX cannot escape them)."""
    text = text.replace("\r\n", "\n") if keep_lines else " ".join(text.split())
    depth = 0
    for ch in text:
        depth += (ch == "{") - (ch == "}")
        if depth < 0:
            break
    if depth != 0:
        text = _UNBALANCED.sub("", text)
    if keep_lines:
        # a line starting with @ would start a new entry for bibtexparser's error recovery
        text = re.sub(r"(?m)^(\s*)@", r"\1{@}", text)
    return "{" + text + "}"


def _keyword(name: str) -> str:
    name = _UNBALANCED.sub("", name)
    return "{" + name + "}" if ("," in name or ";" in name) else name


@dataclass
class BibPaper:
    """What `write` needs of a saved paper."""

    arxiv_id: str
    title: str | None
    authors: list[str]
    year: int | None
    primary_category: str | None
    collections: list[str]  # names
    note: str


def write(papers: Iterable[BibPaper], comment: str = "") -> str:
    """A BibTeX file of these papers, with the marker that makes keywords collections again."""
    out = [f"@comment{{{MARKER}: collections are in keywords, notes in annote{'; ' + comment if comment else ''}}}", ""]
    for p in papers:
        lines = [f"@misc{{{p.arxiv_id},", f"  title = {_value(p.title or p.arxiv_id)},"]
        if p.authors:
            lines.append(f"  author = {_value(' and '.join(p.authors))},")
        if p.year:
            lines.append(f"  year = {{{p.year}}},")
        lines.append(f"  eprint = {{{p.arxiv_id}}},")
        lines.append("  archivePrefix = {arXiv},")
        if p.primary_category:
            lines.append(f"  primaryClass = {{{p.primary_category}}},")
        lines.append(f"  url = {{https://arxiv.org/abs/{p.arxiv_id}}},")
        if p.collections:
            lines.append(f"  keywords = {{{', '.join(_keyword(c) for c in p.collections)}}},")
        if p.note:
            lines.append(f"  annote = {_value(p.note, keep_lines=True)},")
        lines[-1] = lines[-1].rstrip(",")
        lines.append("}")
        out.append("\n".join(lines))
        out.append("")
    return "\n".join(out)
