"""
A paper's code, project page and Hugging Face artifacts as cards, paper pages
and the API show them: what a source said (`githubRepo`, `projectPage` from
Hugging Face) first, else what `ingest.links` found in the comments and
abstract (stored in `papers.links`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

ARTIFACT_LABELS = {"model": "Model", "dataset": "Dataset", "space": "Space"}


@dataclass(frozen=True)
class Artifact:
    kind: str  # model | dataset | space
    url: str

    @property
    def label(self) -> str:
        return ARTIFACT_LABELS[self.kind]

    @property
    def name(self) -> str:
        """`owner/name`, the repository's Hugging Face name."""
        return "/".join(self.url.rstrip("/").split("/")[-2:])


@dataclass(frozen=True)
class PaperLinks:
    code: str | None = None
    project: str | None = None
    stars: int | None = None  # of `code`, when Hugging Face said
    artifacts: list[Artifact] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.code or self.project or self.artifacts)


def _safe(url: str | None) -> str | None:
    # every URL here becomes an href: only the web's own schemes
    return url if url and url.lower().startswith(("https://", "http://")) else None


def paper_links(github_repo: str | None, project_page: str | None, github_stars: int | None,
                found: list[dict] | None) -> PaperLinks:
    """The links to show for a paper, from its stored columns."""
    found = found or []
    code, project = _safe(github_repo), _safe(project_page)
    stars = github_stars if code else None
    if code is None:
        code = next((_safe(f.get("url")) for f in found if f.get("kind") == "code"), None)
    if project is None:
        project = next((_safe(f.get("url")) for f in found if f.get("kind") == "project"), None)
    artifacts = [
        Artifact(f["kind"], f["url"]) for f in found if f.get("kind") in ARTIFACT_LABELS and _safe(f.get("url"))
    ]
    return PaperLinks(code, project, stars, artifacts)


def of_row(row) -> PaperLinks:
    """`paper_links` of a `papers` row (or a card: anything with those attributes)."""
    return paper_links(row.github_repo, row.project_page, row.github_stars, row.links)
