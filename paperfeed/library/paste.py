"""
A pasted list of arXiv ids or URLs (one per line, or separated by spaces,
commas or semicolons): `2106.09685`, `arXiv:hep-th/9901001v2`,
`https://arxiv.org/abs/1706.03762`, Hugging Face paper URLs.

At most `max_ids` items are read (the web's paste box passes `MAX_PASTE`);
the result says how many more there were, so the reader is told, and the work
stays bounded however much was pasted.
"""

from __future__ import annotations

import re

from paperfeed import ids
from paperfeed.library.entries import ImportEntry

MAX_PASTE = 1_000
_SEPARATORS = re.compile(r"[\s,;]+")


def looks_like_ids(text: str) -> bool:
    """Whether any of the first items of `text` is an arXiv id or URL."""
    items = _SEPARATORS.split(text[:20_000].strip())[:200]
    return any(ids.is_valid(i) for i in items if i)


def read(text: str, max_ids: int | None = MAX_PASTE) -> tuple[list[ImportEntry], int]:
    """The pasted items as entries (in order) and how many more items were left unread."""
    entries: list[ImportEntry] = []
    left = 0
    for n, item in enumerate(_items(text), start=1):
        if max_ids is not None and len(entries) >= max_ids:
            left += 1
            continue
        entry = ImportEntry(location=f"item {n}", key=item[:200])
        try:
            entry.arxiv_id, entry.how = ids.canonical(item), "pasted id"
        except ids.BadArxivId:
            entry.problem = "not an arXiv id or arXiv/Hugging Face URL"
        entries.append(entry)
    return entries, left


def _items(text: str):
    for m in re.finditer(r"[^\s,;]+", text):
        yield m.group(0)
