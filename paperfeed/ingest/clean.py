"""
Small normalisers shared by the ingest sources: whitespace, author lists,
categories and the date formats arXiv uses.  Each raises `ValueError` with a
readable message on input it cannot make sense of; the caller turns that into a
`Reject` for the record.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime

_PARAGRAPH = re.compile(r"\n[ \t]+")  # arXiv marks a new paragraph by an indented line
# control characters that str.split() does not already treat as whitespace
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f]")
_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
_AUTHOR_SPLIT = re.compile(r",\s*(?:and\s+)?|\s+and\s+", re.IGNORECASE)
_VERSION = re.compile(r"^v?(\d+)$")
_VERSION_NAMES = {f"v{n}": n for n in range(1, 100)}  # arXiv's own spelling, parsed once


def text(value, field: str) -> str | None:
    """A single-line field: whitespace collapsed, control characters removed."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{field} must be text, got {type(value).__name__}")
    if _clean(value):
        return value or None
    if _CONTROL.search(value):
        value = _CONTROL.sub("", value)
    return " ".join(value.split()) or None  # split/join: several times faster than a regex


def _clean(value: str) -> bool:
    """True when `value` is already normalised: single spaces only, none at either end.

    A printable string has no whitespace but " " (every other character `str.split`
    splits on is a separator or control character), so this is exact; it costs a
    tenth of split/join on a typical title or abstract.
    """
    return value.isprintable() and "  " not in value and value[:1] != " " and value[-1:] != " "


# PaperRecord attribute -> arXiv's own field name (OAI metadata, the Kaggle snapshot)
ARXIV_TEXT_FIELDS = {
    "comments": "comments",
    "journal_ref": "journal-ref",
    "doi": "doi",
    "report_no": "report-no",
    "license": "license",
    "submitter": "submitter",
}


def arxiv_text_fields(get) -> dict[str, str | None]:
    """The single-line fields arXiv names the same way everywhere, read through `get(name)`."""
    out = {}
    for attr, name in ARXIV_TEXT_FIELDS.items():
        value = get(name)
        out[attr] = None if value is None else text(value, name)  # most are absent: skip the call
    return out


def abstract(value) -> str | None:
    """Abstract text: hard line wraps joined, arXiv's paragraph breaks kept as newlines."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"abstract must be text, got {type(value).__name__}")
    value = value.strip()
    flat = value.replace("\n", " ")
    if _clean(flat):  # one hard-wrapped paragraph (nearly all): a "\n " or "\n\t" break would fail this
        return flat or None
    if _CONTROL.search(value):
        value = _CONTROL.sub("", value)
    value = value.strip()
    parts = _PARAGRAPH.split(value) if "\n " in value or "\n\t" in value else (value,)
    paragraphs = (_paragraph(p) for p in parts)
    return "\n".join(p for p in paragraphs if p) or None


def _paragraph(text: str) -> str:
    flat = text.replace("\n", " ")
    return flat if _clean(flat) else " ".join(text.split())


def authors(value) -> list[str] | None:
    """Ordered author names from a list or from arXiv's "A, B and C" string."""
    if value is None:
        return None
    if isinstance(value, str):
        names = _AUTHOR_SPLIT.split(" ".join(value.split()))
    elif isinstance(value, list):
        names = []
        for item in value:
            if isinstance(item, dict):  # {"name": "..."} as in Hugging Face's JSON
                item = item.get("name")
            if not isinstance(item, str):
                raise ValueError(f"author must be text, got {type(item).__name__}")
            names.append(item)
    else:
        raise ValueError(f"authors must be a list or text, got {type(value).__name__}")
    out = (" ".join(n.split()) for n in names)
    return [n for n in out if n]


def authors_parsed(value) -> list[str]:
    """Kaggle's `authors_parsed`: [[last, first, suffix], ...] into "first last suffix"."""
    if not isinstance(value, list):
        raise ValueError("authors_parsed must be a list of [last, first, suffix] lists")
    out = []
    for item in value:
        if isinstance(item, list) and len(item) == 3 and not item[2]:  # [last, first, ""]: nearly all
            last, first = item[0], item[1]
            if isinstance(last, str) and isinstance(first, str) and isinstance(item[2], str) and _clean(first) and _clean(last):
                name = f"{first} {last}" if first and last else first or last
                if name:
                    out.append(name)
                continue
        if not isinstance(item, list) or not all(isinstance(p, str) for p in item):
            raise ValueError("authors_parsed must be a list of [last, first, suffix] lists")
        last, first, suffix = (item + ["", "", ""])[:3]
        name = " ".join(f"{first} {last} {suffix}".split())
        if name:
            out.append(name)
    return out


def categories(value) -> list[str] | None:
    """Categories from a list or arXiv's space-separated string, order kept, no repeats."""
    if value is None:
        return None
    if isinstance(value, str):
        items = value.split()
        if len(items) == 1:
            return items
    elif isinstance(value, list) and all(isinstance(c, str) for c in value):
        items = [c.strip() for c in value]
    else:
        raise ValueError("categories must be a list of text or a space-separated string")
    return list(dict.fromkeys(c for c in items if c))


def version_number(value) -> int:
    """1 from "v1", "1" or 1."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str) and (known := _VERSION_NAMES.get(value)):
        return known
    m = _VERSION.match(str(value).strip()) if isinstance(value, str | int) else None
    if not m or int(m.group(1)) < 1:
        raise ValueError(f"bad version {value!r}")
    return int(m.group(1))


def timestamp(value) -> datetime | None:
    """A UTC datetime from RFC 2822 ("Mon, 2 Apr 2007 19:18:42 GMT"), ISO 8601 or a date."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if not isinstance(value, str):
        raise ValueError(f"date must be text, got {type(value).__name__}")
    s = value.strip()
    fast = _rfc2822_gmt(s)
    if fast is not None:
        return fast
    try:
        if s[:4].isdigit():
            dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
        else:
            dt = parsedate_to_datetime(s)
    except (ValueError, TypeError, IndexError):
        raise ValueError(f"unreadable date {value[:40]!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def _rfc2822_gmt(s: str) -> datetime | None:
    """Fast path for arXiv's own "Mon, 2 Apr 2007 19:18:42 GMT" (the email parser is 10x slower)."""
    parts = s.split()
    if len(parts) != 6 or parts[5] != "GMT" or parts[2] not in _MONTHS:
        return None
    hms = parts[4].split(":")
    try:
        return datetime(int(parts[3]), _MONTHS[parts[2]], int(parts[1]), int(hms[0]), int(hms[1]), int(hms[2]), tzinfo=UTC)
    except (ValueError, IndexError):
        return None


def day(value) -> date:
    """A calendar day from "2026-10-03" or any timestamp form."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    dt = timestamp(value)
    if dt is None:
        raise ValueError("missing date")
    return dt.date()


# --- what Hugging Face knows about a paper (`githubRepo`, `githubStars`, `ai_keywords`) ---


def web_url(value, field: str) -> str | None:
    """An http(s) URL (`githubRepo`, `projectPage`), as one line of text."""
    url = text(value, field)
    if url is not None and not url.lower().startswith(("https://", "http://")):
        raise ValueError(f"{field} must be an http(s) URL, got {url[:60]!r}")
    return url


def count(value, field: str) -> int | None:
    """A non-negative whole number (`githubStars`); 12.0 (an integer column with nulls) reads as 12."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{field} must be a non-negative integer, got {value!r}"[:120])
    return value


def keywords(value, field: str) -> list[str] | None:
    """A list of short texts (`ai_keywords`), each cleaned, empty ones dropped."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
        raise ValueError(f"{field} must be a list of text")
    return [k for k in (text(k, field) for k in value) if k] or None
