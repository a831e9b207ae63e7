"""
arXiv identifiers: parsing the forms people paste, and the canonical key we store.

Papers are keyed by their id without version.  New-style ids are `YYMM.NNNN`
(2007-2014) or `YYMM.NNNNN` (2015 on); old-style ids are `archive[.SUBJ]/YYMMNNN`
(https://info.arxiv.org/help/arxiv_identifier.html).  Inputs may carry a version
suffix (`v3`), an `arXiv:` prefix, or be a full abs/pdf/html/Hugging Face URL.
"""

from __future__ import annotations

import re

_NEW = r"\d{4}\.\d{4,5}"
_OLD = r"[a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7}"
_ID = re.compile(rf"^(?P<id>{_NEW}|{_OLD})(?:v(?P<v>\d+))?$", re.IGNORECASE)
_URL_PREFIX = re.compile(
    r"^(?:https?://)?(?:www\.|export\.)?(?:arxiv\.org|huggingface\.co)/(?:abs|pdf|html|papers)/",
    re.IGNORECASE,
)
_OAI_PREFIX = "oai:arxiv.org:"


class BadArxivId(ValueError):
    pass


def parse(text: str) -> tuple[str, int | None]:
    """Return (canonical id, version or None) for anything that names an arXiv paper.

    >>> parse("https://arxiv.org/abs/2406.09415v2")
    ('2406.09415', 2)
    >>> parse("arXiv:hep-th/9901001")
    ('hep-th/9901001', None)
    """
    if not isinstance(text, str):
        raise BadArxivId(f"arXiv id must be text, got {type(text).__name__}")
    m = _ID.match(text)  # fast path: already a bare id, as in every bulk source
    if m and "/" not in text:
        return m.group("id"), _version(m, text)
    s = text.strip()
    if len(s) > 200:
        raise BadArxivId("arXiv id is too long")
    s = _URL_PREFIX.sub("", s)
    if s.lower().startswith(_OAI_PREFIX):
        s = s[len(_OAI_PREFIX):]
    if s.lower().startswith("arxiv:"):
        s = s[6:]
    s = s.removesuffix(".pdf").removesuffix(".md").rstrip("/")
    m = _ID.match(s)
    if not m:
        raise BadArxivId(f"not an arXiv id: {text[:80]!r}")
    ident = m.group("id")
    if "/" in ident:
        archive, number = ident.split("/")
        # archive is lower case, subject class upper case: "math.AG/0601001"
        if "." in archive:
            a, subj = archive.split(".")
            archive = f"{a.lower()}.{subj.upper()}"
        else:
            archive = archive.lower()
        ident = f"{archive}/{number}"
    return ident, _version(m, text)


def _version(m: re.Match, text: str) -> int | None:
    version = int(m.group("v")) if m.group("v") else None
    if version == 0:
        raise BadArxivId(f"version numbers start at 1: {text[:80]!r}")
    return version


def canonical(text: str) -> str:
    """The stored key for an id in any accepted form."""
    return parse(text)[0]


def is_valid(text: str) -> bool:
    try:
        parse(text)
    except BadArxivId:
        return False
    return True
