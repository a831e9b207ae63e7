"""
A paper's BibTeX entry, shown with a copy button on its page.  (The Markdown
version of the page, `/papers/{id}.md`, is served by the API module.)

The entry follows arXiv's own export (`@misc` with `eprint`,
`archivePrefix` and `primaryClass`), so reference managers recognise it.
"""

from __future__ import annotations

import re

ABS_URL = "https://arxiv.org/abs/{}"
PDF_URL = "https://arxiv.org/pdf/{}"

# BibTeX has no escape for unbalanced braces; dropping them keeps the entry parseable
_UNBALANCED = re.compile(r"[{}]")


def _field(text: str) -> str:
    text = " ".join(text.split())
    depth = 0
    for ch in text:
        depth += ch == "{"
        depth -= ch == "}"
        if depth < 0:
            break
    return text if depth == 0 else _UNBALANCED.sub("", text)


def bibtex(paper) -> str:
    """The BibTeX entry of a paper row (fields of `papers`)."""
    year = paper.published.year if paper.published else None
    lines = [f"@misc{{{paper.arxiv_id},"]
    lines.append(f"  title = {{{_field(paper.title or paper.arxiv_id)}}},")
    if paper.authors:
        lines.append(f"  author = {{{_field(' and '.join(paper.authors))}}},")
    if year:
        lines.append(f"  year = {{{year}}},")
    lines.append(f"  eprint = {{{paper.arxiv_id}}},")
    lines.append("  archivePrefix = {arXiv},")
    if paper.primary_category:
        lines.append(f"  primaryClass = {{{paper.primary_category}}},")
    lines.append(f"  url = {{{ABS_URL.format(paper.arxiv_id)}}}")
    lines.append("}")
    return "\n".join(lines)

