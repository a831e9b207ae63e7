"""
The site's renderer: the Jinja environment of `web/templates` with the filters
every page uses (`excerpt`, `author_list`, `author_href`, `nice_date`), and `render()`, the one
way a page module turns a template into a response.

The environment is built once per process (templates ship with the package, so
nothing is reloaded); each app holds a `Renderer` on `app.state.renderer`, made
by `create_app` with the context processors it wants (the signed-in user, the
CSRF token).  That keeps this module a leaf: page modules import it, and it
imports none of them (like datasette, which keeps its renderer on the app).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader

from paperfeed.digest import render as digest_render
from paperfeed.names import author_key

TEMPLATES = Path(__file__).parent / "templates"
ContextProcessor = Callable[[Request], dict]


def excerpt(value: str | None, limit: int = 320) -> str:
    return digest_render.shorten(value, limit)  # the digest's cut: at a word, "…" when cut


def author_list(names: list[str] | None, limit: int = 8) -> str:
    return digest_render.authors(names, limit)


def author_href(name: str | None) -> str:
    """The author page of `name` (`/authors/albert%20gu`), or "" for a name that folds to nothing."""
    key = author_key(name or "")
    return f"/authors/{quote(key, safe='')}" if key else ""


def nice_date(value) -> str:
    if value is None:
        return ""
    return f"{value.day} {value:%b %Y}"


def _site_environment() -> Environment:
    templates = Jinja2Templates(directory=str(TEMPLATES))  # Starlette's defaults: autoescape, url_for
    templates.env.filters.update(
        excerpt=excerpt, author_list=author_list, nice_date=nice_date, author_href=author_href
    )
    templates.env.auto_reload = False  # templates ship with the package: no stat() per include per request
    return templates.env


SITE = _site_environment()
_overlays: dict[str, Environment] = {}


def environment(pages: Path | str | None = None) -> Environment:
    """The site's environment, or (with `pages`) one where templates in `pages`
    come first and the site's (`base.html`, the filters) fill in the rest."""
    if pages is None:
        return SITE
    key = str(pages)
    if key not in _overlays:
        _overlays[key] = SITE.overlay(loader=ChoiceLoader([FileSystemLoader(key), SITE.loader]))
    return _overlays[key]


class Renderer:
    """Templates for one app: the shared environments plus that app's context processors."""

    def __init__(self, context_processors: Iterable[ContextProcessor] = ()) -> None:
        self.context_processors = list(context_processors)
        self._templates: dict[str | None, Jinja2Templates] = {}

    def templates(self, pages: Path | str | None = None) -> Jinja2Templates:
        key = None if pages is None else str(pages)
        if key not in self._templates:
            self._templates[key] = Jinja2Templates(
                env=environment(pages), context_processors=self.context_processors
            )
        return self._templates[key]

    def response(
        self,
        request: Request,
        name: str,
        context: dict,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        pages: Path | str | None = None,
    ) -> Response:
        return self.templates(pages).TemplateResponse(
            request, name, context, status_code=status, headers=headers
        )


def install(app: FastAPI, context_processors: Iterable[ContextProcessor] = ()) -> Renderer:
    """Give `app` its renderer (what `render` uses for requests to that app)."""
    app.state.renderer = Renderer(context_processors)
    return app.state.renderer


def render(
    request: Request,
    name: str,
    context: dict,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    pages: Path | str | None = None,
) -> Response:
    """The template `name` rendered for `request` by its app's renderer; `pages`
    is a directory of templates that come before the site's own."""
    renderer: Renderer = request.app.state.renderer
    return renderer.response(request, name, context, status, headers, pages)
