"""
The library as JSON: everything, exactly, so an export imported into an empty
account exports the same again (`exported_at` and `user` aside).

    {"format": "paperfeed-library", "version": 1, "user": "ada", "exported_at": "…",
     "collections": [{"slug", "name", "description", "is_default", "is_public",
                      "created_at", "updated_at"}, …],
     "papers": [{"arxiv_id", "title", "note", "saved_at",
                 "collections": [{"slug", "added_at"}, …]}, …]}

Times are ISO 8601 with their UTC offset.  `title` is informative (the stored
paper's); an id the database does not hold is matched by it, or fetched.
"""

from __future__ import annotations

from typing import Any

import orjson

from paperfeed import ids
from paperfeed.library.csvfile import parse_time
from paperfeed.library.entries import ImportEntry

FORMAT = "paperfeed-library"
VERSION = 1


def looks_like_json(text: str) -> bool:
    return text.lstrip("\ufeff \t\r\n")[:1] in ("{", "[")


def read(text: str) -> tuple[list[ImportEntry], list[dict], str | None]:
    """(entries, collections as exported, a problem with the whole file or None)."""
    try:
        data = orjson.loads(text.lstrip("\ufeff"))
    except orjson.JSONDecodeError as e:
        return [], [], f"not valid JSON: {e}"
    if isinstance(data, dict) and isinstance(data.get("library"), dict):
        data = data["library"]  # an account's data export holds a library
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return [], [], f"not a paperfeed library export (no \"format\": \"{FORMAT}\")"
    collections = [c for c in data.get("collections") or [] if isinstance(c, dict) and c.get("slug") and c.get("name")]
    entries = []
    for n, item in enumerate(data.get("papers") or [], start=1):
        entry = ImportEntry(location=f"paper {n}")
        if not isinstance(item, dict):
            entry.problem = "not an object"
            entries.append(entry)
            continue
        raw = str(item.get("arxiv_id") or "")
        entry.key = raw[:80]
        try:
            entry.arxiv_id, entry.how = ids.canonical(raw), "arxiv_id"
        except ids.BadArxivId:
            entry.problem = f"{raw[:80]!r} is not an arXiv id"
        entry.title = item.get("title") if isinstance(item.get("title"), str) else None
        entry.note = item.get("note") if isinstance(item.get("note"), str) else None
        entry.saved_at = parse_time(str(item.get("saved_at") or ""))
        members = [m for m in item.get("collections") or [] if isinstance(m, dict) and m.get("slug")]
        entry.collections = [str(m["slug"]) for m in members]
        entry.added_at = {str(m["slug"]): t for m in members if (t := parse_time(str(m.get("added_at") or "")))}
        entries.append(entry)
    return entries, collections, None


def document(user: str, exported_at: str, collections: list[dict[str, Any]], papers: list[dict[str, Any]]) -> dict:
    return {"format": FORMAT, "version": VERSION, "user": user, "exported_at": exported_at,
            "collections": collections, "papers": papers}


def dumps(doc: dict) -> str:
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"
