"""
The arXiv API (`export.arxiv.org/api/query`), which answers in Atom.

`read` turns a saved response into `PaperRecord`s; `fetch` runs a live query
URL, paging with `start`/`max_results` one polite request at a time;
`query_url` and `fetch_ids` serve callers that want a paper's metadata by id
(the web app, when a reader submits a paper).  Field mapping
(https://info.arxiv.org/help/api/user-manual.html#_details_of_atom_results_returned):
`<id>` is the abs URL with the version (`…/abs/1707.08567v2`), `<published>`
is version 1's date and `<updated>` the latest version's, so a record knows
the dates of its first and latest versions and that the ones between exist.
When a query is malformed, arXiv answers HTTP 400 with a feed whose single
entry has the id `https://arxiv.org/api/errors#…` and the title "Error"; that
becomes a `Reject` carrying arXiv's message, never a paper.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from paperfeed import ids, settings
from paperfeed.ingest import clean, http, xmlsafe
from paperfeed.ingest.records import PaperRecord, Reject
from paperfeed.ingest.run import Checkpoint

SOURCE = "arxiv-api"
PAGE_SIZE = 100  # results per request; arXiv allows up to 2000 but large pages are slow and flaky
DEFAULT_MAX_RESULTS = 10  # what arXiv returns when a URL gives no max_results

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
_ERROR_IDS = ("http://arxiv.org/api/errors", "https://arxiv.org/api/errors")


@dataclass
class Page:
    """What a response said about itself, filled in while its entries stream by."""

    total: int | None = None  # opensearch:totalResults
    entries: int = 0
    broken: bool = False  # a document-level Reject came out (truncated, refused)


def read(f: BinaryIO, origin: str) -> Iterator[PaperRecord | Reject]:
    yield from _parse(f, origin, Page())


def _parse(f: BinaryIO, origin: str, page: Page, first: int = 0) -> Iterator[PaperRecord | Reject]:
    tags = (f"{ATOM}entry", f"{OPENSEARCH}totalResults")
    for item in xmlsafe.elements(f, origin, tags):
        if isinstance(item, Reject):
            page.broken = True
            yield item
        elif item.tag == f"{OPENSEARCH}totalResults":
            page.total = _int(item.text)
        else:
            page.entries += 1
            location = f"entry {first + page.entries} (line {item.sourceline})"
            try:
                yield entry_record(item, origin, location)
            except ValueError as e:
                yield Reject(origin, location, str(e), _text(item, f"{ATOM}id") or "")


def entry_record(entry, origin: str, location: str) -> PaperRecord | Reject:
    """One `<entry>` as a record, or a Reject for arXiv's error entry; ValueError when bad."""
    raw_id = (_text(entry, f"{ATOM}id") or "").strip()
    if raw_id.startswith(_ERROR_IDS):
        message = clean.text(_text(entry, f"{ATOM}summary"), "summary") or raw_id
        return Reject(origin, location, f"arXiv API error: {message}", raw_id)
    if not raw_id:
        raise ValueError("missing id")
    arxiv_id, version = ids.parse(raw_id)
    published = clean.timestamp(_text(entry, f"{ATOM}published"))
    updated = clean.timestamp(_text(entry, f"{ATOM}updated"))
    versions: list = [(1, published)] if published else []
    if version and version > 1:
        # the versions between the first and the latest exist; their dates come from OAI-PMH
        versions += [(n, None) for n in range(2, version)] + [(version, updated)]
    categories = [c.get("term") for c in entry.iterfind(f"{ATOM}category") if c.get("term")]
    primary = entry.find(f"{ARXIV}primary_category")
    primary_term = primary.get("term") if primary is not None else None
    if primary_term and primary_term not in categories:
        categories.insert(0, primary_term)
    return PaperRecord(
        arxiv_id=arxiv_id,
        source=SOURCE,
        version=version,
        versions=versions,
        title=clean.text(_text(entry, f"{ATOM}title"), "title"),
        authors=[
            name
            for a in entry.iterfind(f"{ATOM}author")
            if (name := clean.text(_text(a, f"{ATOM}name"), "author"))
        ],
        abstract=clean.abstract(_text(entry, f"{ATOM}summary")),
        primary_category=primary_term or (categories[0] if categories else None),
        categories=clean.categories(categories),
        comments=clean.text(_text(entry, f"{ARXIV}comment"), "comment"),
        journal_ref=clean.text(_text(entry, f"{ARXIV}journal_ref"), "journal_ref"),
        doi=clean.text(_text(entry, f"{ARXIV}doi"), "doi"),
        published=published,
        updated=updated,
        location=location,
    )


def query_url(
    search_query: str | None = None,
    id_list: list[str] | str | None = None,
    start: int = 0,
    max_results: int = PAGE_SIZE,
) -> str:
    """An arXiv API query URL on the configured endpoint (setting `arxiv_api_url`)."""
    params: dict[str, str | int] = {}
    if search_query:
        params["search_query"] = search_query
    if id_list:
        params["id_list"] = id_list if isinstance(id_list, str) else ",".join(id_list)
    params.update(start=start, max_results=max_results)
    return f"{settings.get('arxiv_api_url')}?{urlencode(params, safe=':,/')}"


def fetch(
    url: str, origin: str, page_size: int = PAGE_SIZE
) -> Iterator[PaperRecord | Reject | Checkpoint]:
    """Run a live query: `max_results` from the URL is the total wanted, fetched in pages.

    Stops when that many entries came, when `opensearch:totalResults` is
    reached, or on an empty page (arXiv's API sometimes returns one mid-way;
    asking again is the caller's choice, not ours).
    """
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    start = _int(params.get("start")) or 0
    wanted = _int(params.get("max_results"))
    wanted = DEFAULT_MAX_RESULTS if wanted is None else wanted
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    got = 0
    with http.session() as client:
        while got < wanted:
            params.update(start=str(start + got), max_results=str(min(page_size, wanted - got)))
            try:
                body = http.get(base, params, client=client)
            except http.FetchError as e:
                if e.status == 400 and b"<feed" in e.body[:2000]:
                    body = e.body  # arXiv explains a bad query in an error feed: read it
                else:
                    raise
            page = Page()
            yield from _parse(io.BytesIO(body), origin, page, first=start + got)
            # each page is stored before the next request, so a failure later loses nothing
            yield Checkpoint(_nothing)
            got += page.entries
            if page.broken or page.entries == 0:
                return
            if page.total is not None and start + got >= page.total:
                return


def _nothing() -> None:
    pass


def fetch_ids(arxiv_ids: list[str]) -> list[PaperRecord]:
    """The current metadata of these papers from the arXiv API (unknown ids are left out).

    Ids are checked locally first (`ids.BadArxivId`); an error arXiv reports
    anyway raises `FetchError` with its message.
    """
    wanted = [ids.canonical(i) for i in arxiv_ids]
    records: list[PaperRecord] = []
    for at in range(0, len(wanted), PAGE_SIZE):
        chunk = wanted[at : at + PAGE_SIZE]
        url = query_url(id_list=chunk, max_results=len(chunk))
        for item in fetch(url, url):
            if isinstance(item, Reject):
                raise http.FetchError(item.reason, url)
            if isinstance(item, PaperRecord):
                records.append(item)
    return records


def _text(elem, tag: str) -> str | None:
    return xmlsafe.child_text(elem, tag)


def _int(value: str | None) -> int | None:
    try:
        return int(value.strip()) if value is not None else None
    except ValueError:
        return None
