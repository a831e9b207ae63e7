"""
Health and metrics for operators: `GET /healthz` for load balancers and
monitoring (open to anyone: it tells only up or down), `GET /metrics` in
Prometheus text format for a scrape job that sends
`Authorization: Bearer <PAPERFEED_METRICS_TOKEN>` (the figures say how many
users and subscribers a site has; without a token set, /metrics is a 404).

Two kinds of figures, kept apart on purpose:

- What a worker *did* (requests by route template and status class, their
  latency, search timings by mode) is counted in the worker that did it.  With
  several uvicorn workers a scrape reaches one of them, so `serve()` switches
  prometheus_client to its multiprocess mode (`PROMETHEUS_MULTIPROC_DIR`, one
  small file per worker and metric, summed at scrape time by
  `MultiProcessCollector`): every scrape covers every worker.
- What the site *holds* (papers, daily entries, votes, users, subscribers, the
  digest outbox by status, the last ingest, the search index and how far it
  lags the database) is read from the database and the index at scrape time,
  so every worker reports the same, consistent numbers and nothing is counted
  twice across processes or restarts.

Routes are labelled by their template (`/papers/{arxiv_id}`), never the raw
path, so the number of series stays bounded whatever visitors type.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import time
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import Engine, func, select, text
from starlette.exceptions import HTTPException as StarletteHTTPException

from paperfeed import settings
from paperfeed.ingest.run import LAST_RUN_KEY
from paperfeed.models import DailyEntry, DigestOutbox, JobState, Paper, Subscriber, User, Vote
from paperfeed.web.asgi import HttpMiddleware

log = logging.getLogger("paperfeed.web")
router = APIRouter()

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed", "cancelled")
SUBSCRIBER_STATUSES = ("pending", "active", "paused", "unsubscribed")

REQUESTS = Counter(
    "paperfeed_http_requests",
    "HTTP requests answered, by method, route template and status class (2xx, 3xx, 4xx, 5xx).",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "paperfeed_http_request_duration_seconds",
    "Time from receiving a request to sending the last part of its response, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SEARCH = Histogram(
    "paperfeed_search_duration_seconds",
    "Time to answer one search, by mode (hybrid, keyword, semantic, similar) and by what answered: "
    "`index` (the search package), `fallback` (the plain substring search, when no index is built or the "
    "search extra is not installed) or `error` (the search failed: answered 503).",
    ["mode", "source"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
# A gauge, not a counter, because only gauges keep a per-process `pid` label in
# multiprocess mode: it shows how the kernel spreads connections over the workers.
WORKER_REQUESTS = Gauge(
    "paperfeed_worker_requests",
    "Requests answered by each worker process since the server started (one series per worker pid).",
    multiprocess_mode="all",
)


# -- the request middleware ---------------------------------------------------


def route_label(scope: dict) -> str:
    """The matched route's template, the mount it fell in (`/static/{path}`), or `unmatched`."""
    route = scope.get("route")
    if route is not None:
        return getattr(route, "path_format", None) or getattr(route, "path", "unmatched")
    endpoint = scope.get("endpoint")
    app = scope.get("app")
    for mounted in getattr(app, "routes", ()):
        if endpoint is not None and getattr(mounted, "app", None) is endpoint:
            return f"{mounted.path}/{{path}}"
    return "unmatched"


class RequestMetrics(HttpMiddleware):
    """Counts and times every HTTP request."""

    async def handle(self, scope, receive, send) -> None:
        started = time.perf_counter()
        status = 500  # an exception before the response started becomes the crash page
        recorded = False

        def record() -> None:
            nonlocal recorded
            if recorded:
                return
            recorded = True
            method = scope["method"] if scope.get("method") in METHODS else "other"
            route = route_label(scope)
            REQUESTS.labels(method, route, f"{status // 100}xx").inc()
            LATENCY.labels(method, route).observe(time.perf_counter() - started)
            WORKER_REQUESTS.inc()

        async def send_and_note(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                # counted before the last byte leaves: a client that has its answer
                # and scrapes next (maybe another worker) always finds it counted
                record()
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            record()


def observe_search(mode: str, source: str, seconds: float) -> None:
    """Record one search (called by `paperfeed.web.search_bridge`)."""
    SEARCH.labels(mode, source).observe(seconds)


# -- figures read at scrape time ----------------------------------------------


def index_state() -> tuple[str, object | None]:
    """("absent" | "disabled" | "ok" | "error", the served generation or None).

    "absent": no index built yet (searches use the substring fallback);
    "disabled": paperfeed installed without the `search` extra.
    """
    try:
        from paperfeed.search import store
    except ImportError:
        return "disabled", None
    root = store.index_root()
    if not (root / "CURRENT").exists():
        return "absent", None
    try:
        gen = store.current()
        gen.keyword  # noqa: B018 -- opens the keyword index (cached per generation)
        return "ok", gen
    except Exception:
        log.warning("the search index in %s cannot be opened", root, exc_info=True)
        return "error", None


def _gauge(name: str, documentation: str, value: float | None, labels: dict | None = None) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=list(labels or {}))
    if value is not None:
        family.add_metric(list((labels or {}).values()), value)
    return family


class SiteCollector:
    """The database's and the index's figures, read when Prometheus scrapes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self):
        state, gen = index_state()
        index_revision = gen.meta.revision if gen is not None else None
        try:
            yield from self._database(index_revision)
            up = 1
        except Exception:
            log.warning("metrics: the database could not be read", exc_info=True)
            up = 0
        yield _gauge("paperfeed_database_up", "1 when this worker could query the database during the scrape.", up)
        yield _gauge("paperfeed_search_index_up", "1 when a search index is built and opens.", int(state == "ok"))
        if gen is not None:
            yield _gauge("paperfeed_search_index_generation", "Number of the index generation being served.",
                         gen.meta.generation)
            yield _gauge("paperfeed_search_index_papers", "Papers in the served index generation.", gen.meta.count)
            yield _gauge("paperfeed_search_index_revision", "Database change counter the served index is complete up to.",
                         gen.meta.revision)
            current = gen.folder.parent / "CURRENT"
            try:
                switched = current.stat().st_mtime
            except OSError:
                switched = None
            yield _gauge("paperfeed_search_index_switched_timestamp_seconds",
                         "When `paperfeed index` last switched to a new generation (Unix time).", switched)

    def _database(self, index_revision: int | None):
        with self.engine.connect() as conn:
            papers, revision, newest = conn.execute(
                select(func.count(), func.max(Paper.revision), func.max(Paper.published)).select_from(Paper)
            ).one()
            counts = {
                "daily_entries": conn.scalar(select(func.count()).select_from(DailyEntry)),
                "votes": conn.scalar(select(func.count()).select_from(Vote)),
                "users": conn.scalar(select(func.count()).select_from(User)),
            }
            outbox = dict(conn.execute(select(DigestOutbox.status, func.count()).group_by(DigestOutbox.status)).all())
            subscribers = dict(conn.execute(select(Subscriber.status, func.count()).group_by(Subscriber.status)).all())
            last = conn.execute(select(JobState.value, JobState.updated_at).where(JobState.key == LAST_RUN_KEY)).first()
            pending = None
            if index_revision is not None:
                pending = conn.scalar(select(func.count()).select_from(Paper).where(Paper.revision > index_revision))
        yield _gauge("paperfeed_papers", "Papers stored.", papers)
        yield _gauge("paperfeed_papers_revision", "The database's change counter: every ingest batch that changes papers bumps it.",
                     revision or 0)
        yield _gauge("paperfeed_papers_newest_published_timestamp_seconds",
                     "Publication time of the newest stored paper (Unix time).", newest.timestamp() if newest else None)
        yield _gauge("paperfeed_daily_entries", "Entries on the daily lists, every day together.", counts["daily_entries"])
        yield _gauge("paperfeed_votes", "Upvotes cast by this site's users.", counts["votes"])
        yield _gauge("paperfeed_users", "Accounts.", counts["users"])
        family = GaugeMetricFamily("paperfeed_digest_outbox", "Digest emails in the outbox, by status.", labels=["status"])
        for status in sorted(set(OUTBOX_STATUSES) | set(outbox)):
            family.add_metric([status], outbox.get(status, 0))
        yield family
        family = GaugeMetricFamily("paperfeed_subscribers", "Digest subscriptions, by status.", labels=["status"])
        for status in sorted(set(SUBSCRIBER_STATUSES) | set(subscribers)):
            family.add_metric([status], subscribers.get(status, 0))
        yield family
        if last is not None:
            yield _gauge("paperfeed_ingest_last_run_timestamp_seconds", "When the last `paperfeed ingest` finished (Unix time).",
                         last.updated_at.timestamp())
            family = GaugeMetricFamily("paperfeed_ingest_last_run_papers",
                                       "What the last `paperfeed ingest` did, by result.", labels=["result"])
            for result in ("read", "new", "updated", "unchanged", "rejected"):
                family.add_metric([result], int((last.value or {}).get(result, 0)))
            yield family
        if pending is not None:
            yield _gauge("paperfeed_search_index_pending_papers",
                         "Papers changed in the database since the served index was built (0: up to date).", pending)


class _Process:
    """This process's default registry (request metrics, Python and process figures)."""

    def collect(self):
        yield from REGISTRY.collect()


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or os.environ.get(MULTIPROC_ENV.lower()) or None


def exposition(engine: Engine) -> bytes:
    """The text Prometheus scrapes."""
    registry = CollectorRegistry()
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Process())
    registry.register(SiteCollector(engine))
    return generate_latest(registry)


def prepare_multiprocess(port: int) -> Path:
    """Switch the workers `serve()` is about to start to multiprocess metrics.

    Must run before the workers import prometheus_client (they inherit the
    environment).  Unless the operator set `PROMETHEUS_MULTIPROC_DIR`, the
    directory is `<data_dir>/metrics/serve-<port>`, emptied first: files left
    by an earlier run would be counted again.
    """
    configured = multiprocess_dir()
    if configured:
        path = Path(configured)
    else:
        path = settings.data_dir() / "metrics" / f"serve-{port}"
        shutil.rmtree(path, ignore_errors=True)
        os.environ[MULTIPROC_ENV] = str(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


# -- the routes ---------------------------------------------------------------


@router.get("/healthz", include_in_schema=False)
def healthz(request: Request) -> JSONResponse:
    """200 when the database answers and the search index (if built) opens; 503 otherwise."""
    body: dict = {"status": "ok", "database": "ok"}
    try:
        with request.app.state.engine.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as e:
        log.warning("health check: the database is unreachable", exc_info=True)
        body.update(status="error", database=f"unreachable ({type(e).__name__})")
    state, gen = index_state()
    body["index"] = state
    if gen is not None:
        body.update(index_generation=gen.folder.name, indexed_papers=gen.meta.count)
    if state == "error":
        body["status"] = "error"
    return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503,
                        headers={"Cache-Control": "no-store"})


def scrape_allowed(request: Request) -> bool:
    """Whether the request carries `Authorization: Bearer <metrics_token>` (compared in
    constant time, so response times do not leak the token); 404 when no token is set."""
    expected = settings.value("metrics_token")
    if not expected:
        raise StarletteHTTPException(404)  # no token configured: as if there were no /metrics
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return secrets.compare_digest(given.strip().encode(), expected.encode())


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus text, for a scrape job that sends the bearer token (docs/operations.md)."""
    if not scrape_allowed(request):
        return Response("A bearer token is required: Authorization: Bearer <PAPERFEED_METRICS_TOKEN>\n",
                        status_code=401, media_type="text/plain",
                        headers={"WWW-Authenticate": 'Bearer realm="paperfeed metrics"', "Cache-Control": "no-store"})
    return Response(exposition(request.app.state.engine), media_type=CONTENT_TYPE_LATEST,
                    headers={"Cache-Control": "no-store"})


def install(app) -> None:
    """Count every request (outermost middleware) and serve `/healthz` and `/metrics`."""
    app.add_middleware(RequestMetrics)
    app.include_router(router)
