"""
A lab's deployment under load (issue "Run it for a lab"): `paperfeed serve
--workers 2` on PostgreSQL with the sample corpus and a built index; reader
threads read pages and cast upvotes through it while `paperfeed ingest` adds
new papers and `paperfeed index` switches the search index to a new
generation.  No request may fail, every upvote must be stored exactly once,
both workers must have answered, `/metrics` must count every request of both
workers, and the new papers must become searchable through the running
server, without a restart.

PostgreSQL only: several workers share state only through it (SQLite allows
one writer at a time); `make test` sets PAPERFEED_TEST_POSTGRES_URL.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from paperfeed.ingest.run import ingest_sources
from paperfeed.models import Paper, Vote
from paperfeed.ops.demo import SAMPLES
from paperfeed.web import accounts
from tests.databases import PG_URL

pytestmark = [pytest.mark.database, pytest.mark.skipif(
    not PG_URL,
    reason="several web workers need PostgreSQL: set PAPERFEED_TEST_POSTGRES_URL (make test does)",
)]

USERS = 8  # each upvotes each of VOTED papers exactly once
VOTED = 12
THREADS = 4  # USERS / THREADS users per thread, one after another
LOAD_SECONDS = 30  # the load stops by then whatever happens
SEARCH_WAIT = 20  # seconds the workers have to find the new papers once `paperfeed index` has switched
PASSWORD = "correct horse battery"
WORD = "quokkaflux"  # in the new papers only
NEW_IDS = ["2612.99001", "2612.99002", "2612.99003"]
QUERIES = ["diphoton production", "neural networks", "graph", "quantum field theory"]
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def new_papers_file(path: Path) -> Path:
    """Three papers in the Kaggle snapshot format that the sample corpus lacks."""
    lines = []
    for n, arxiv_id in enumerate(NEW_IDS):
        lines.append(json.dumps({
            "id": arxiv_id, "submitter": "Ada Lovelace", "authors": "Ada Lovelace, Alan Turing",
            "title": f"The {WORD} effect in sparse transformers, part {n + 1}",
            "comments": None, "journal-ref": None, "doi": None, "report-no": None,
            "categories": "cs.LG cs.CL", "license": None,
            "abstract": f"We describe the {WORD} effect: attention heads that vanish under pruning.",
            "versions": [{"version": "v1", "created": "Mon, 14 Dec 2026 10:00:00 GMT"}],
            "update_date": "2026-12-14", "authors_parsed": [["Lovelace", "Ada", ""], ["Turing", "Alan", ""]],
        }))
    path.write_text("\n".join(lines) + "\n")
    return path


def paperfeed_command(*args: str) -> list[str]:
    """`paperfeed ARGS` as the installed command runs it (the same interpreter)."""
    from paperfeed.cli import cli

    if args[0] == "index" and "index" not in cli.commands:  # not registered in cli.py yet
        code = "import sys; from paperfeed.search.commands import index_command; index_command(sys.argv[1:])"
        return [sys.executable, "-c", code, *args[1:]]
    return [sys.executable, "-m", "paperfeed.cli", *args]


@dataclass
class Traffic:
    """Every request the test made, and the ones that went wrong."""

    answered: int = 0
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def call(self, client: httpx.Client, method: str, url: str, expect: int = 200, **kw) -> httpx.Response | None:
        try:
            r = client.request(method, url, **kw)
        except httpx.HTTPError as e:
            with self.lock:
                self.failures.append(f"{method} {url}: {type(e).__name__}: {e}")
            return None
        with self.lock:
            self.answered += 1
            if r.status_code != expect:
                self.failures.append(f"{method} {url}: {r.status_code} (expected {expect}) {r.text[:200]!r}")
        return r if r.status_code == expect else None


def new_client(base: str) -> httpx.Client:
    # no keep-alive: every request opens a connection, which the kernel gives to either worker
    return httpx.Client(base_url=base, timeout=30, limits=httpx.Limits(max_keepalive_connections=0))


def reader(base: str, names: list[str], papers: list[str], traffic: Traffic, stop: threading.Event,
           deadline: float, votes: list[tuple[str, str]]) -> None:
    """Log in as each of `names` in turn; upvote every paper once, reading a page after each vote;
    then keep reading until told to stop."""
    reads = ["/", "/api/daily_papers?limit=20", "/papers/{id}", "/papers?q={q}"]
    n = 0

    def read(c: httpx.Client) -> None:
        nonlocal n
        url = reads[n % len(reads)].format(id=papers[n % len(papers)], q=QUERIES[n % len(QUERIES)])
        traffic.call(c, "GET", url)
        n += 1

    for name in names:
        with new_client(base) as c:
            page = traffic.call(c, "GET", "/login")
            if page is None:
                return
            login = {"username": name, "password": PASSWORD, "csrf_token": CSRF.search(page.text)[1], "next": "/"}
            if traffic.call(c, "POST", "/login", expect=303, data=login) is None:
                return
            page = traffic.call(c, "GET", "/")  # the session's new CSRF token
            if page is None:
                return
            token = CSRF.search(page.text)[1]
            for arxiv_id in papers:
                if time.monotonic() > deadline:
                    return
                form = {"arxiv_id": arxiv_id, "csrf_token": token, "next": f"/papers/{arxiv_id}"}
                if traffic.call(c, "POST", "/vote", expect=303, data=form) is not None:
                    votes.append((name, arxiv_id))
                read(c)
    with new_client(base) as c:
        while not stop.is_set() and time.monotonic() < deadline:
            read(c)


def found_ids(html: str) -> set[str]:
    return set(re.findall(r'href="/papers/(2612\.99\d{3})"', html))


def searchable(base: str, traffic: Traffic, mode: str) -> bool:
    """Whether the search page finds every new paper through the index (not the substring fallback)."""
    with new_client(base) as c:
        r = traffic.call(c, "GET", f"/papers?q={WORD}&mode={mode}")
    if r is None:
        return False
    assert "search index is not built yet" not in r.text, "the server fell back to the substring search"
    return found_ids(r.text) >= set(NEW_IDS)


METRICS_TOKEN = "multiworker-metrics-token-0123456789abc"


def scrape(base: str, traffic: Traffic) -> dict:
    with new_client(base) as c:
        c.headers["Authorization"] = f"Bearer {METRICS_TOKEN}"
        r = traffic.call(c, "GET", "/metrics")
    assert r is not None, traffic.failures[-1:]
    out: dict = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def test_two_workers_under_load_with_ingest_and_reindex(engine, db_url, data_dir, tmp_path):
    started = time.monotonic()
    summary = ingest_sources([str(SAMPLES / "arxiv-kaggle-sample.jsonl"), str(SAMPLES / "hf-daily-papers-sample.json")],
                             engine=engine)
    assert summary.new >= 200 and summary.rejected == 0, summary.line()
    names = [f"voter{i}" for i in range(USERS)]
    user_ids = {name: accounts.create_user(engine, name, PASSWORD) for name in names}
    with engine.connect() as conn:
        papers = list(conn.scalars(select(Paper.arxiv_id).order_by(Paper.arxiv_id).limit(VOTED)))
    env = {
        **os.environ, "PAPERFEED_DATABASE_URL": db_url, "PAPERFEED_DATA_DIR": str(data_dir),
        "PAPERFEED_DIGEST_SCHEDULER": "false", "PAPERFEED_RATE_LIMIT_LOGIN": "1000/600",
        "PAPERFEED_RATE_LIMIT_SEARCH": "100000/60",  # every simulated reader shares 127.0.0.1
        "PAPERFEED_METRICS_TOKEN": METRICS_TOKEN,
        "PAPERFEED_EMBEDDING_THREADS": "1",  # two workers and the indexer share the test machine's cores
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "serve.log").open("w+")
    # the first index is built while the server starts: it serves it without a restart
    index_proc = subprocess.Popen(paperfeed_command("index"), env={**env, "PAPERFEED_EMBEDDING_THREADS": "0"},
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    server = subprocess.Popen(paperfeed_command("serve", "--port", str(port), "--workers", "2"),
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    traffic = Traffic()

    def server_log() -> str:
        log.flush()
        return Path(log.name).read_text()[-4000:]

    try:
        out, _ = index_proc.communicate(timeout=120)
        assert index_proc.returncode == 0, out
        deadline = time.monotonic() + 60
        while True:  # wait for the server
            try:
                if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                    traffic.answered += 1
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server_log()
            assert time.monotonic() < deadline, "the server did not start:\n" + server_log()
            time.sleep(0.2)
        setup = time.monotonic() - started

        stop = threading.Event()
        load_deadline = time.monotonic() + LOAD_SECONDS
        votes: list[tuple[str, str]] = []
        per_thread = USERS // THREADS
        threads = [
            threading.Thread(target=reader, args=(base, names[i * per_thread:(i + 1) * per_thread], papers,
                                                  traffic, stop, load_deadline, votes))
            for i in range(THREADS)
        ]
        for t in threads:
            t.start()
        try:
            time.sleep(1)  # the load is under way
            ingest = subprocess.run(paperfeed_command("ingest", str(new_papers_file(tmp_path / "new.jsonl"))),
                                    env=env, capture_output=True, text=True, timeout=60)
            assert ingest.returncode == 0, ingest.stdout + ingest.stderr
            assert not searchable(base, traffic, "keyword")  # in the database, not yet in the index
            reindex = subprocess.run(paperfeed_command("index"), env=env, capture_output=True, text=True, timeout=60)
            assert reindex.returncode == 0, reindex.stdout + reindex.stderr
            # SEARCHABLE WITHOUT A RESTART: the running workers must notice the new generation.  They
            # get SEARCH_WAIT seconds from the switch, even when a loaded machine's ingest and index
            # took most of the load's time (the load itself still stops at its deadline).
            reindexed = time.monotonic()
            found_at = None
            while time.monotonic() < max(load_deadline, reindexed + SEARCH_WAIT):
                if searchable(base, traffic, "keyword"):
                    found_at = time.monotonic()
                    break
                time.sleep(0.25)
            assert found_at is not None, "the new papers never became searchable in the running server"
            # every later search finds them, on new connections (either worker), in both modes
            assert all(searchable(base, traffic, "keyword") for _ in range(8))
            assert all(searchable(base, traffic, "hybrid") for _ in range(4))
        finally:
            stop.set()
            for t in threads:
                t.join(LOAD_SECONDS + 30)
        load = time.monotonic() - load_deadline + LOAD_SECONDS

        assert not traffic.failures, f"{len(traffic.failures)} requests failed:\n" + "\n".join(traffic.failures[:20])
        assert len(votes) == USERS * VOTED, "the load stopped before every vote was cast"
        with engine.connect() as conn:
            stored = set(conn.execute(select(Vote.user_id, Vote.arxiv_id)).all())
            assert conn.scalar(select(func.count()).select_from(Vote)) == len(votes)
        assert stored == {(user_ids[name], arxiv_id) for name, arxiv_id in votes}

        found = scrape(base, traffic)
        workers = {dict(labels)["pid"]: v for (name, labels), v in found.items() if name == "paperfeed_worker_requests"}
        assert len(workers) == 2 and all(v > 0 for v in workers.values()), workers
        counted = sum(v for (name, _), v in found.items() if name == "paperfeed_http_requests_total")
        assert counted == sum(workers.values()) == traffic.answered - 1  # the last scrape counts itself later
        assert not any(dict(labels).get("status") == "5xx" for (name, labels) in found if name.startswith("paperfeed_http"))
        assert found[("paperfeed_votes", frozenset())] == len(votes)
        assert found[("paperfeed_search_index_pending_papers", frozenset())] == 0
        assert "Traceback" not in server_log(), server_log()
        print(f"setup {setup:.1f}s, load {load:.1f}s, {traffic.answered} requests, per worker {workers}")
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)  # uvicorn's parent stops its workers
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(5)
        if index_proc.poll() is None:
            index_proc.kill()
        log.close()
