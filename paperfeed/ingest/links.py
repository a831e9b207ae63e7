"""
Code, project-page and Hugging Face artifact links found in a paper's own text.

arXiv has no field for a paper's code: authors put it in `comments` ("Code:
https://github.com/...", "Project page at ...", `\\url{...}`) or at the end of
the abstract.  `extract` finds those URLs and says what each one is:

- `code`: a GitHub, GitLab, Bitbucket or Codeberg repository (normalised to
  `https://github.com/owner/repo`, the form Hugging Face's `githubRepo` uses);
- `model`, `dataset`, `space`: a Hugging Face repository;
- `project`: a `*.github.io` site, or any URL the text introduces as a project
  page, website, homepage or demo.

Every other URL (journals, DOIs, conference sites, a group's home page) is
left out: a wrong "Code" link is worse than none.  The result is stored with
the paper (`papers.links`, JSON `[{"kind", "url"}]`) when it is written, so
pages never run this.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KINDS = ("code", "project", "model", "dataset", "space")

# a URL with a scheme, or a bare host we recognise; stops at whitespace, quotes,
# braces (`\url{...}`, `\href{url}{text}`), angle brackets and backslashes
_URL = re.compile(
    r"(?:https?://|(?<![\w.@/])(?=(?:www\.)?(?:github\.com|gitlab\.com|huggingface\.co|hf\.co)/))"
    r"[^\s<>\"'{}\\|^`\[\]]+",
    re.IGNORECASE,
)
_BARE_HOSTS = ("github.com/", "gitlab.com/", "huggingface.co/", "hf.co/")
_TRAILING = ".,;:!?*'\""
# words that introduce a project page, looked for just before the URL
_PROJECT_CUE = re.compile(
    r"(?:project|code\s+and\s+project|web)\s*(?:page|site|website|homepage)|home\s*page|website|webpage|demos?\b",
    re.IGNORECASE,
)
_CUE_WINDOW = 40
_CODE_HOSTS = {"github.com", "gitlab.com", "bitbucket.org", "codeberg.org"}
_GITHUB_NOT_REPOS = {"features", "about", "orgs", "topics", "sponsors", "marketplace", "settings", "login", "site"}
_HF_HOSTS = {"huggingface.co", "hf.co"}
_HF_NOT_MODELS = {
    "papers", "docs", "blog", "collections", "models", "organizations", "learn", "tasks",
    "join", "login", "pricing", "posts", "settings", "api", "chat", "new", "spaces", "datasets",
}


@dataclass(frozen=True)
class Link:
    kind: str  # one of KINDS
    url: str

    def as_json(self) -> dict:
        return {"kind": self.kind, "url": self.url}


def extract(*texts: str | None) -> list[Link]:
    """The code, project and Hugging Face links in `texts`, in order, each once."""
    found: dict[str, Link] = {}
    for text in texts:
        if not text or not _may_link(text):
            continue
        for m in _URL.finditer(text):
            url = _trim(m.group(0))
            link = classify(url, text[max(0, m.start() - _CUE_WINDOW) : m.start()])
            if link is not None and link.url not in found:
                found[link.url] = link
    return list(found.values())


def _may_link(text: str) -> bool:
    """A cheap first look (most abstracts have no URL): substring scans, no regex."""
    if "://" in text:
        return True
    low = text.lower()
    return any(host in low for host in _BARE_HOSTS)


def extract_json(*texts: str | None) -> list[dict] | None:
    """`extract` as stored in `papers.links`: None when there is nothing."""
    links = extract(*texts)
    return [link.as_json() for link in links] or None


def _trim(url: str) -> str:
    """`url` without the sentence punctuation after it; a closing bracket only when unbalanced."""
    while url:
        last = url[-1]
        if last in _TRAILING:
            url = url[:-1]
        elif last == ")" and url.count("(") < url.count(")"):
            url = url[:-1]
        else:
            break
    return url


def classify(url: str, before: str = "") -> Link | None:
    """What `url` is (`before`: the text just before it, for the project-page cue), or None."""
    if "://" not in url:
        url = "https://" + url
    scheme, _, rest = url.partition("://")
    host, _, path = rest.partition("/")
    host = host.lower().split(":")[0]
    if host.startswith("www."):
        host = host[4:]
    if not host or "." not in host:
        return None
    parts = [p for p in re.split(r"[?#]", path, maxsplit=1)[0].split("/") if p]
    if host in _CODE_HOSTS:
        return _code(host, parts)
    if host in _HF_HOSTS:
        return _hugging_face(parts)
    if host.endswith(".github.io"):
        return Link("project", url)
    clause = re.split(r"[.;]\s", before)[-1]  # the cue must be in the same clause
    if _PROJECT_CUE.search(clause):
        return Link("project", f"{scheme.lower()}://{rest}")
    return None


def _code(host: str, parts: list[str]) -> Link | None:
    if host == "gitlab.com":
        # a group can nest (gitlab.com/group/subgroup/repo); "/-/" starts the repo's own pages
        if "-" in parts:
            parts = parts[: parts.index("-")]
        if len(parts) < 2:
            return None
        repo = parts
    else:
        if len(parts) < 2 or parts[0].lower() in _GITHUB_NOT_REPOS:
            return None
        repo = parts[:2]
    repo = [*repo[:-1], repo[-1].removesuffix(".git")]
    if not all(re.fullmatch(r"[\w.-]+", p) for p in repo):
        return None
    return Link("code", f"https://{host}/{'/'.join(repo)}")


def _hugging_face(parts: list[str]) -> Link | None:
    if len(parts) >= 3 and parts[0] in ("datasets", "spaces"):
        kind = "dataset" if parts[0] == "datasets" else "space"
        return Link(kind, f"https://huggingface.co/{parts[0]}/{parts[1]}/{parts[2]}")
    if len(parts) >= 2 and parts[0] not in _HF_NOT_MODELS:
        return Link("model", f"https://huggingface.co/{parts[0]}/{parts[1]}")
    return None
