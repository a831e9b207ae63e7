"""
The FastAPI application: `create_app(engine)` puts the pages, accounts,
community actions, API, feeds and subscriptions together with the security
layer and the renderer; `serve()` runs it with uvicorn (`paperfeed serve`).

Templates and static files live inside the package (`web/templates`,
`web/static`: our CSS and script, plus vendored htmx and KaTeX), so an
installed paperfeed needs no build step and no CDN.  This module is the top
of `web/`: it imports the page modules, and none of them imports it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from paperfeed.web import accounts, metrics, pagecache, request_limits, security, templating

HERE = Path(__file__).parent
log = logging.getLogger("paperfeed.web")


def site_context(request: Request) -> dict:
    """What every template may use: the user, the CSRF token, the date."""
    try:
        user = accounts.current_user(request)
    except Exception:  # an error page must render even when the database is down
        log.warning("could not load the signed-in user", exc_info=True)
        user = None
    return {
        "user": user,
        "csrf_token": accounts.csrf_token(request),
        "signup_open": accounts.signup_open(),
        "today": datetime.now(UTC).date(),
    }


DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>paperfeed API</title>
<link rel="icon" href="/static/favicon.svg"><link rel="stylesheet" href="/static/swagger/swagger-ui.css"></head>
<body><div id="swagger-ui" data-openapi="/api/openapi.json"></div>
<script src="/static/swagger/swagger-ui-bundle.js"></script>
<script src="/static/swagger/init.js"></script></body></html>
"""


def create_app(engine: Engine | None = None, scheduler: bool = False) -> FastAPI:
    """The site for `engine` (default: the configured database, migrated).

    `scheduler` runs the digest sender inside the server (the embedded default);
    its job lock makes that safe with several workers or a cron job as well.
    """
    from paperfeed import settings

    settings.validate()  # refuse bad settings now, not with a 500 at the first request that reads one
    from paperfeed import db
    from paperfeed.digest import scheduler as digest_scheduler
    from paperfeed.web import (
        account_pages,
        api,
        author_pages,
        category_filter,
        community,
        discussion_feed,
        discussion_pages,
        feeds,
        foryou_api,
        foryou_feeds,
        foryou_pages,
        hf_json,
        library_api,
        library_feeds,
        library_pages,
        library_transfer,
        moderation_pages,
        pages,
        submissions,
        subscribe_pages,
        token_pages,
    )

    app = FastAPI(
        lifespan=digest_scheduler.lifespan if scheduler else None,
        title="paperfeed",
        description="Self-hosted research-paper discovery: daily papers, trending, search, feeds.",
        docs_url=None,  # served below from vendored files: the CDN page breaks offline and under our CSP
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.engine = engine if engine is not None else db.connect()
    templating.install(app, context_processors=[site_context])
    pagecache.install(app)  # innermost: cached pages still get the headers and session cookie
    request_limits.install(app)  # outside the cache: a cached page is no way round the body limit
    security.install(app)
    # outermost last: sessions must exist before any handler (error pages included) runs
    app.add_middleware(accounts.Sessions)
    metrics.install(app)  # outermost: counts and times everything, crash pages included; /healthz, /metrics
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.get("/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return HTMLResponse(DOCS_PAGE)

    # api before pages: it serves /papers/{id}.md, which the page route would shadow
    reader = (library_pages, library_transfer, author_pages, token_pages, account_pages, library_api, library_feeds)
    for module in (api, feeds, subscribe_pages, accounts, community, *reader):  # the reader's layer: issue #13
        app.include_router(module.router)
    for module in (accounts, subscribe_pages):  # their errors answered with a page
        module.install(app)
    for module in (foryou_pages, foryou_feeds, foryou_api):  # For you: issue #14
        app.include_router(module.router)
    app.include_router(submissions.router)  # POST /api/papers/index
    for module in (discussion_pages, moderation_pages, discussion_feed):  # the paper page's discussion: issue #15
        app.include_router(module.router)
    app.include_router(category_filter.router)
    app.include_router(pages.router)  # last: /papers/{id:path} would shadow the others
    hf_json.install_openapi(app)
    return app


def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Run the site with uvicorn; several workers share state through the database."""
    import uvicorn

    from paperfeed import siteurl

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    siteurl.listening(host, port)  # before the workers start: they inherit it
    refusal = siteurl.mail_refusal()
    if refusal:
        log.warning("%s", refusal)
    else:
        log.info("links in e-mails, feeds and the API start with %s", siteurl.site_url())
    if workers > 1:
        metrics.prepare_multiprocess(port)  # before the workers import prometheus_client
        uvicorn.run(
            "paperfeed.web.app:served_app", factory=True, host=host, port=port,
            workers=workers, proxy_headers=True,
        )
    else:
        uvicorn.run(served_app(), host=host, port=port, proxy_headers=True)


def served_app() -> FastAPI:
    """What `paperfeed serve` runs: the site with its digest scheduler."""
    return create_app(scheduler=True)
