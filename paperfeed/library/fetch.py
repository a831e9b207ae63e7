"""
Fetching papers an import names but the database lacks, from the arXiv API.

Through the existing Atom client (`paperfeed.ingest.atom`: its query URL and
parser) and the shared upsert, in batched `id_list` calls of up to
`BATCH` ids, with a short timeout and at most one retry, so an import waits
seconds, not minutes, when arXiv is slow; the polite delay between requests
(setting `arxiv_delay`) still applies.  The caller bounds how many ids are
fetched (the web a few, the command line any number).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import httpx
from sqlalchemy import Engine

from paperfeed.ingest import atom, http
from paperfeed.ingest.upsert import write_batch

BATCH = 100
TIMEOUT = 10.0  # seconds per request
RETRIES = 1


@dataclass
class Fetched:
    stored: set[str] = field(default_factory=set)  # fetched and now in the database
    unknown: set[str] = field(default_factory=set)  # arXiv answered without them
    failed: dict[str, str] = field(default_factory=dict)  # id -> why it could not be fetched


def fetch(engine: Engine, arxiv_ids: list[str], timeout: float = TIMEOUT) -> Fetched:
    """Fetch and store these (canonical) ids; what became of each."""
    result = Fetched()
    wanted = list(dict.fromkeys(arxiv_ids))
    client = httpx.Client(headers={"User-Agent": http.user_agent()},
                          timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)), follow_redirects=True)
    with client:
        for at in range(0, len(wanted), BATCH):
            chunk = wanted[at : at + BATCH]
            try:
                records = _batch(client, chunk, timeout)
            except OSError as e:  # http.FetchError, or the network
                for arxiv_id in chunk:
                    result.failed[arxiv_id] = f"could not fetch it from arXiv: {e}"
                continue
            good = [r for r in records if r.arxiv_id in chunk and not r.problems()]
            if good:
                write_batch(engine, good)
            result.stored.update(r.arxiv_id for r in good)
            result.unknown.update(set(chunk) - result.stored)
    return result


def _batch(client: httpx.Client, chunk: list[str], timeout: float) -> list:
    url = atom.query_url(id_list=chunk, max_results=len(chunk))
    try:
        body = http.get(url, client=client, retries=RETRIES, max_wait=timeout)
    except http.FetchError as e:
        if e.status == 400 and b"<feed" in e.body[:2000]:
            body = e.body  # arXiv explains a refused query in an error feed
        else:
            raise
    records = []
    for item in atom.read(io.BytesIO(body), url):
        if not hasattr(item, "problems"):  # a Reject: arXiv's error entry (the record types are moving)
            raise http.FetchError(item.reason, url)
        records.append(item)
    return records
