"""
The normalised paper record that every ingest source produces.

Each source module (Kaggle snapshot, arXiv Atom, OAI-PMH, Hugging Face daily
papers, tabular files) turns its own format into `PaperRecord`s, or into
`Reject`s saying where a bad record was and why.  The shared upsert
(`paperfeed.ingest.upsert`) is the only code that writes them to the database,
so merge rules (newer version wins, sources tracked per field) live in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

# Limits that make a record "oversized": a field past them is rejected, not truncated,
# so nothing half-stored ever looks complete.
MAX_TITLE = 2_000
MAX_ABSTRACT = 20_000
MAX_AUTHORS = 5_000
MAX_AUTHOR_NAME = 500
MAX_TEXT_FIELD = 5_000
MAX_CATEGORIES = 50

# Fields a source can supply; the upsert records which source supplied each one.
PAPER_FIELDS = (
    "title",
    "authors",
    "abstract",
    "primary_category",
    "categories",
    "comments",
    "journal_ref",
    "doi",
    "report_no",
    "license",
    "submitter",
    "published",
    "updated",
    # what Hugging Face knows about a paper beyond arXiv (its daily JSON); kept last:
    # while they are empty a row's content hash is what it was before they existed
    "github_repo",
    "project_page",
    "github_stars",
    "ai_summary",
    "ai_keywords",
)
MAX_AI_KEYWORDS = 100


@dataclass
class DailyInfo:
    """A paper's appearance on a daily list (Hugging Face daily papers)."""

    day: date
    upvotes: int = 0
    submitted_by: str | None = None
    curated: bool = True
    submitted_at: datetime | None = None  # when it joined the list, if the source says


@dataclass
class PaperRecord:
    arxiv_id: str  # canonical, without version: "2406.09415" or "hep-th/9901001"
    source: str  # e.g. "kaggle", "arxiv-api", "oai:arXivRaw", "hf-daily", "table"
    version: int | None = None  # latest version this record describes, if known
    versions: list[tuple[int, datetime | None]] = field(default_factory=list)
    title: str | None = None
    authors: list[str] | None = None
    abstract: str | None = None
    primary_category: str | None = None
    categories: list[str] | None = None
    comments: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    report_no: str | None = None
    license: str | None = None
    submitter: str | None = None
    published: datetime | None = None  # first version's date
    updated: datetime | None = None  # latest version's date
    github_repo: str | None = None  # Hugging Face's `githubRepo`
    project_page: str | None = None  # `projectPage`
    github_stars: int | None = None  # `githubStars`
    ai_summary: str | None = None  # `ai_summary`
    ai_keywords: list[str] | None = None  # `ai_keywords`
    daily: DailyInfo | None = None
    location: str = ""  # where in the input it came from, for messages

    def problems(self) -> list[str]:
        """Why this record cannot be stored (empty when it can)."""
        out = []
        if not self.abstract or not self.abstract.strip():
            out.append("missing abstract")
        if self.title is not None and len(self.title) > MAX_TITLE:
            out.append(f"title longer than {MAX_TITLE} characters")
        if self.abstract and len(self.abstract) > MAX_ABSTRACT:
            out.append(f"abstract longer than {MAX_ABSTRACT} characters")
        if self.authors is not None:
            if len(self.authors) > MAX_AUTHORS:
                out.append(f"more than {MAX_AUTHORS} authors")
            elif any(len(a) > MAX_AUTHOR_NAME for a in self.authors):
                out.append(f"an author name longer than {MAX_AUTHOR_NAME} characters")
        if self.categories is not None and len(self.categories) > MAX_CATEGORIES:
            out.append(f"more than {MAX_CATEGORIES} categories")
        if self.ai_keywords is not None and len(self.ai_keywords) > MAX_AI_KEYWORDS:
            out.append(f"more than {MAX_AI_KEYWORDS} ai_keywords")
        for name in ("comments", "journal_ref", "doi", "report_no", "license", "submitter",
                     "github_repo", "project_page", "ai_summary"):
            value = getattr(self, name)
            if value is not None and len(value) > MAX_TEXT_FIELD:
                out.append(f"{name} longer than {MAX_TEXT_FIELD} characters")
        return out

    def check(self, origin: str) -> Reject | None:
        """The `Reject` for this record if it cannot be stored, else None."""
        problems = self.problems()
        if not problems:
            return None
        return Reject(origin, self.location or "record", "; ".join(problems), self.arxiv_id)


@dataclass
class Reject:
    """A record that could not be read or stored."""

    source: str  # file path or URL
    location: str  # "line 12", "record 3", "byte 1024"
    reason: str
    excerpt: str = ""

    def __str__(self) -> str:
        return f"{self.source}: {self.location}: {self.reason}"
