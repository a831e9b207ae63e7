"""`/healthz` and `/metrics`: the exposition parses, request counters move and are
labelled by route template, the database gauges say what the database holds,
and with several worker processes every scrape covers all of them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, func, insert, select

from paperfeed.ingest.run import ingest_sources
from paperfeed.models import DailyEntry, DigestOutbox, JobState, Paper, Subscriber, User, Vote
from paperfeed.web import accounts, metrics
from tests.webdata import TODAY, add_paper, add_vote, client


def samples(response) -> dict[tuple[str, frozenset], float]:
    """Every sample of an exposition, keyed by (name, labels)."""
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(found: dict, name: str, **labels) -> float | None:
    return found.get((name, frozenset(labels.items())))


def requests_to(found: dict, route: str, status: str = "2xx", method: str = "GET") -> float:
    return value(found, "paperfeed_http_requests_total", method=method, route=route, status=status) or 0.0


TOKEN = "metrics-token-for-the-tests-0123456789"
SCRAPER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(autouse=True)
def metrics_token(monkeypatch):
    monkeypatch.setenv("PAPERFEED_METRICS_TOKEN", TOKEN)


def scraper(engine):
    """A client that sends the metrics token, as a Prometheus scrape job does."""
    c = client(engine)
    c.headers.update(SCRAPER)
    return c


@pytest.fixture
def site(engine, data_dir):
    add_paper(engine, "2610.00002", "Thursday favourite", day=TODAY, upvotes=9)
    add_paper(engine, "2610.00003", "Quiet paper", day=TODAY - timedelta(days=1),
              published=datetime(2026, 9, 30, 12, tzinfo=UTC))
    return scraper(engine)


def test_request_counters_move_and_are_labelled_by_route_template(site):
    before = samples(site.get("/metrics"))
    for _ in range(3):
        assert site.get("/papers/2610.00002").status_code == 200
    assert site.get("/papers/2610.00003").status_code == 200
    assert site.get("/papers/2699.99999").status_code == 404
    assert site.get("/no/such/page").status_code == 404
    assert site.get("/static/favicon.svg").status_code == 200
    after = samples(site.get("/metrics"))

    paper = "/papers/{arxiv_id}"
    assert requests_to(after, paper) - requests_to(before, paper) == 4
    assert requests_to(after, paper, "4xx") - requests_to(before, paper, "4xx") == 1
    assert requests_to(after, "unmatched", "4xx") - requests_to(before, "unmatched", "4xx") == 1
    assert requests_to(after, "/static/{path}") - requests_to(before, "/static/{path}") == 1
    assert requests_to(after, "/metrics") - requests_to(before, "/metrics") == 1  # the first scrape
    routes = {dict(labels).get("route") for name, labels in after if name.startswith("paperfeed_http_")}
    assert not any("2610." in r or "no/such" in r for r in routes if r), routes  # never raw paths
    count = value(after, "paperfeed_http_request_duration_seconds_count", method="GET", route=paper)
    assert count - (value(before, "paperfeed_http_request_duration_seconds_count", method="GET", route=paper) or 0) == 5
    assert value(after, "paperfeed_http_request_duration_seconds_sum", method="GET", route=paper) > 0


def test_post_and_crash_are_counted(engine, site, monkeypatch):
    from paperfeed.web import pages

    def boom(*args, **kwargs):
        raise RuntimeError("deliberate")

    before = samples(site.get("/metrics"))
    assert site.post("/vote", data={"arxiv_id": "2610.00002"}).status_code == 403  # no CSRF token
    monkeypatch.setattr(pages, "daily_page", boom)
    assert site.get("/").status_code == 500
    after = samples(site.get("/metrics"))
    assert requests_to(after, "/vote", "4xx", "POST") - requests_to(before, "/vote", "4xx", "POST") == 1
    assert requests_to(after, "/", "5xx") - requests_to(before, "/", "5xx") == 1


def test_search_timings_by_mode_and_source(site):
    before = samples(site.get("/metrics"))
    assert site.get("/papers", params={"q": "Thursday", "mode": "keyword"}).status_code == 200
    assert site.get("/api/papers/search", params={"q": "Thursday"}).status_code == 200
    after = samples(site.get("/metrics"))
    name = "paperfeed_search_duration_seconds_count"
    # no index is built in this data directory: the substring fallback answers, and says so
    for mode in ("keyword", "hybrid"):
        assert value(after, name, mode=mode, source="fallback") - (
            value(before, name, mode=mode, source="fallback") or 0) == 1


def test_database_gauges_match_the_database(engine, site):
    reader = accounts.create_user(engine, "reader", "correct horse")
    other = accounts.create_user(engine, "other", "correct horse")
    add_vote(engine, reader, "2610.00002")
    add_vote(engine, other, "2610.00002")
    add_vote(engine, other, "2610.00003")
    now = datetime.now(UTC)
    with engine.begin() as conn:
        subs = []
        for i, status in enumerate(["active", "active", "paused", "unsubscribed", "pending"]):
            subs.append(conn.execute(insert(Subscriber).values(
                email=f"s{i}@example.org", status=status, created_at=now)).inserted_primary_key[0])
        for i, status in enumerate(["sent", "sent", "sent", "failed", "pending"]):
            conn.execute(insert(DigestOutbox).values(
                subscriber_id=subs[i], period="D2026-11-22", status=status, message_id=f"<{i}@x>",
                window_start=now, window_end=now, entries=[], attempts=1, created_at=now))
    found = samples(site.get("/metrics"))

    with engine.connect() as conn:
        def count(model, *where) -> int:
            return conn.scalar(select(func.count()).select_from(model).where(*where))

        newest = conn.scalar(select(func.max(Paper.published)))
        revision = conn.scalar(select(func.max(Paper.revision)))
        assert value(found, "paperfeed_papers") == count(Paper) == 2
        assert value(found, "paperfeed_daily_entries") == count(DailyEntry) == 2
        assert value(found, "paperfeed_votes") == count(Vote) == 3
        assert value(found, "paperfeed_users") == count(User) == 2
        for status in ("pending", "sending", "sent", "failed", "cancelled"):
            assert value(found, "paperfeed_digest_outbox", status=status) == count(
                DigestOutbox, DigestOutbox.status == status), status
        for status in ("pending", "active", "paused", "unsubscribed"):
            assert value(found, "paperfeed_subscribers", status=status) == count(
                Subscriber, Subscriber.status == status), status
    assert value(found, "paperfeed_digest_outbox", status="sent") == 3
    assert value(found, "paperfeed_papers_newest_published_timestamp_seconds") == pytest.approx(newest.timestamp())
    assert value(found, "paperfeed_papers_revision") == revision
    assert value(found, "paperfeed_database_up") == 1
    assert value(found, "paperfeed_search_index_up") == 0  # none built
    assert value(found, "paperfeed_ingest_last_run_timestamp_seconds") is None  # never ran `paperfeed ingest`


def test_last_ingest_is_recorded_and_reported(engine, site, tmp_path):
    table = tmp_path / "papers.jsonl"
    table.write_text(
        '{"arxiv_id": "2611.00001", "title": "New", "abstract": "A new abstract."}\n'
        '{"arxiv_id": "2610.00002", "title": "Thursday favourite", "abstract": "An abstract about learning."}\n'
        '{"arxiv_id": "not an id", "abstract": "rejected"}\n'
    )
    started = datetime.now(UTC)
    summary = ingest_sources([str(table)], engine=engine)
    found = samples(site.get("/metrics"))
    with engine.connect() as conn:
        row = conn.execute(select(JobState).where(JobState.key == "ingest:last_run")).one()
    assert row.value["read"] == summary.read == 2 and row.value["rejected"] == 1
    assert row.updated_at >= started - timedelta(seconds=1)
    assert value(found, "paperfeed_ingest_last_run_timestamp_seconds") == pytest.approx(row.updated_at.timestamp())
    assert value(found, "paperfeed_ingest_last_run_papers", result="new") == summary.new == 1
    assert value(found, "paperfeed_ingest_last_run_papers", result="rejected") == 1
    ingest_sources([str(table)], engine=engine)  # the row is replaced, not added
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(JobState).where(JobState.key == "ingest:last_run")) == 1


# -- /healthz -------------------------------------------------------------------


def test_healthz_without_an_index(site):
    r = site.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok", "index": "absent"}
    assert r.headers["cache-control"] == "no-store"


def test_healthz_when_the_database_is_unreachable(data_dir):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = create_engine(f"postgresql+psycopg://nobody@127.0.0.1:{port}/nothing?connect_timeout=2")
    c = scraper(dead)
    r = c.get("/healthz")
    assert r.status_code == 503
    assert r.json()["status"] == "error" and r.json()["database"].startswith("unreachable")
    found = samples(c.get("/metrics"))  # the scrape still answers, and says so
    assert value(found, "paperfeed_database_up") == 0
    assert value(found, "paperfeed_papers") is None


def test_metrics_need_the_bearer_token(engine, site, monkeypatch):
    """The figures (users, subscribers, traffic) are for the operator's scrape job only."""
    from paperfeed.web import metrics as module

    anonymous = client(engine)
    assert anonymous.get("/healthz").status_code == 200  # load balancers need no token
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": f"Basic {TOKEN}"},
                    {"Authorization": f"Bearer {TOKEN[:-1]}"}, {"Authorization": "Bearer"}):
        r = anonymous.get("/metrics", headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert "paperfeed_papers" not in r.text
    compared = []
    real = module.secrets.compare_digest
    monkeypatch.setattr(module.secrets, "compare_digest", lambda a, b: compared.append((a, b)) or real(a, b))
    assert anonymous.get("/metrics", headers={"Authorization": f"bearer {TOKEN}"}).status_code == 200
    assert compared == [(TOKEN.encode(), TOKEN.encode())]  # constant time, not ==

    monkeypatch.setenv("PAPERFEED_METRICS_TOKEN", "")  # no token configured: no /metrics at all
    assert anonymous.get("/metrics", headers=SCRAPER).status_code == 404
    assert client(engine).get("/healthz").status_code == 200


def test_a_short_metrics_token_is_refused_at_start(engine, monkeypatch):
    from paperfeed import settings
    from paperfeed.web.app import create_app

    monkeypatch.setenv("PAPERFEED_METRICS_TOKEN", "hunter2")
    with pytest.raises(settings.SettingError, match="PAPERFEED_METRICS_TOKEN='\\*\\*\\*'"):
        create_app(engine)


class TinyEncoder:
    """Deterministic stand-in for the embedding model: the index and the keyword
    search need vectors, not good ones."""

    model_id = "test/tiny/8"
    dim = 8

    def encode_documents(self, texts):
        import numpy as np

        rng = np.random.default_rng(len(texts))
        vecs = rng.normal(size=(len(texts), self.dim)).astype(np.float32)
        return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)

    encode_query = encode_documents


@pytest.fixture
def indexed(engine, site):
    search = pytest.importorskip("paperfeed.search")
    report = search.update_index(engine, encoder=TinyEncoder())
    assert report.complete
    return report


def test_healthz_and_gauges_with_an_index(engine, site, indexed, data_dir):
    r = site.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok", "index": "ok",
                        "index_generation": indexed.generation, "indexed_papers": 2}
    before = samples(site.get("/metrics"))
    assert site.get("/papers", params={"q": "Thursday", "mode": "keyword"}).status_code == 200
    add_paper(engine, "2611.00009", "Not indexed yet")
    found = samples(site.get("/metrics"))
    assert value(found, "paperfeed_search_index_up") == 1
    assert value(found, "paperfeed_search_index_papers") == 2
    assert value(found, "paperfeed_search_index_generation") == int(indexed.generation.split("-")[1])
    assert value(found, "paperfeed_search_index_pending_papers") == 1
    name = "paperfeed_search_duration_seconds_count"
    assert value(found, name, mode="keyword", source="index") - (
        value(before, name, mode="keyword", source="index") or 0) == 1


def test_healthz_fails_when_the_index_is_broken(site, indexed, data_dir):
    (data_dir / "index" / "CURRENT").write_text("gen-999999\n")  # names a generation that is not there
    r = site.get("/healthz")
    assert r.status_code == 503
    assert r.json()["status"] == "error" and r.json()["index"] == "error"


# -- several workers ----------------------------------------------------------------


def test_prepare_multiprocess_starts_from_an_empty_directory(data_dir, monkeypatch):
    monkeypatch.delenv(metrics.MULTIPROC_ENV, raising=False)
    stale = data_dir / "metrics" / "serve-8123"
    stale.mkdir(parents=True)
    (stale / "counter_1.db").write_bytes(b"old")
    try:
        path = metrics.prepare_multiprocess(8123)
        assert path == stale and list(path.iterdir()) == []
        assert os.environ[metrics.MULTIPROC_ENV] == str(stale)
    finally:
        os.environ.pop(metrics.MULTIPROC_ENV, None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_scrape_covers_every_worker(engine, site, db_url, data_dir):
    """Two uvicorn workers, reads only (fine on SQLite): the counters of both are in every scrape."""
    port = free_port()
    env = {**os.environ, "PAPERFEED_DATABASE_URL": db_url, "PAPERFEED_DATA_DIR": str(data_dir),
           "PAPERFEED_DIGEST_SCHEDULER": "false"}
    env.pop(metrics.MULTIPROC_ENV, None)
    server = subprocess.Popen(
        [sys.executable, "-m", "paperfeed.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # a start under a loaded machine (other test runs) is slow, not broken
        answered = 0
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                    answered += 1
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stderr.read()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        pids: set[str] = set()
        for _ in range(20):  # new connections: the kernel hands them to either worker
            for _ in range(10):
                assert httpx.get(f"{base}/papers/2610.00002", timeout=10).status_code == 200
                answered += 1
            found = samples(httpx.get(f"{base}/metrics", headers=SCRAPER, timeout=10))
            answered += 1
            pids = {dict(labels)["pid"] for name, labels in found if name == "paperfeed_worker_requests"}
            if len(pids) == 2:
                break
        assert len(pids) == 2, "one worker answered every connection"
        workers = [v for (name, _), v in found.items() if name == "paperfeed_worker_requests"]
        total = sum(v for (name, _), v in found.items() if name == "paperfeed_http_requests_total")
        assert sum(workers) == total == answered - 1  # the scrape counts itself after it answers
        assert value(found, "paperfeed_papers") == 2  # read from the database, not summed over workers
    finally:
        server.terminate()
        server.wait(20)
