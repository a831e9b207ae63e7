"""
The API fuzzed with schemathesis (issue #12): every operation in
`/api/openapi.json`, with `--checks all`, against the real app serving the
corpus the other API tests read.  It fails on any server error and on any
answer the schema does not describe (a status, a content type, a body, an
`Allow` header), or a schema-valid request the code refuses.

It runs the `st run` command a person or CI would run, in a subprocess, against
the app served by uvicorn in this process, so its output (printed when it
fails) is schemathesis's own failure summary, each failure with a `curl` line
to reproduce it.  Bounded: `PAPERFEED_FUZZ_EXAMPLES` examples per operation
(default 50: about 900 requests, 30-60 s); `PAPERFEED_FUZZ_SECONDS` instead
fuzzes until that many seconds are spent (a longer soak).  The seed is fixed
(`PAPERFEED_FUZZ_SEED`), so a failure reproduces.  Mail goes to
a local aiosmtpd server, and the test checks that no fuzzed request sent any.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date

import pytest

from tests import corpus
from tests.server import paperfeed_app, serve
from tests.webdata import add_paper, client

pytest.importorskip("schemathesis")

EXAMPLES = int(os.environ.get("PAPERFEED_FUZZ_EXAMPLES", "50"))
SECONDS = os.environ.get("PAPERFEED_FUZZ_SECONDS")  # st's --max-time: fuzz until it is spent
SEED = os.environ.get("PAPERFEED_FUZZ_SEED", "20261003")


def st_run(url: str, workdir: str, *options: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable, "-c", "from schemathesis.cli import schemathesis; schemathesis()",
        "run", f"{url}/api/openapi.json",
        "--checks", "all",
        "--max-examples", str(EXAMPLES),
        "--seed", SEED,
        "--request-timeout", "30",
        "--no-color",
        *options,
    ] + (["--max-time", SECONDS] if SECONDS else [])
    env = {**os.environ, "SCHEMATHESIS_TELEMETRY": "false", "NO_COLOR": "1"}
    limit = int(SECONDS or 0) + 300  # a hard stop for a hung run, far above the usual 20-40 s
    # in `workdir`: st keeps its replay cache (.schemathesis/) where it runs
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=limit, cwd=workdir)


def test_every_operation_passes_every_check(engine, tmp_path, smtp):
    corpus.load(engine, tmp_path)
    app = paperfeed_app(engine)
    operations = [
        (method.upper(), path)
        for path, methods in app.openapi()["paths"].items()
        for method in methods
    ]
    assert operations, "the schema lists no operation"
    with serve(app) as url:
        run = st_run(url, str(tmp_path))
    output = run.stdout + run.stderr
    print(output)  # shown by pytest when the test fails
    # from the first failure (each with a curl line to reproduce it) to the summary's end
    start = output.find("FAILURES") if "FAILURES" in output else output.find("SUMMARY")
    report = output[max(start, 0) :][-20000:]
    assert run.returncode == 0, f"schemathesis found failures (exit {run.returncode}):\n{report}"
    tested = re.search(r"Tested: (\d+)", output)
    assert tested and int(tested[1]) == len(operations), f"not every operation was tested:\n{report}"
    cases = re.search(r"(\d+) generated, (\d+) passed", output)
    assert cases and cases[1] == cases[2], report
    assert not smtp.messages, "a fuzzed request sent mail"


def test_for_you_with_a_token_passes_every_check(engine, tmp_path):
    """`/api/foryou` past its 401: a reader with a library and an API token, over a built index,
    so every answer the fuzzer gets is a ranking (or a 400) checked against the schema."""
    pytest.importorskip("paperfeed.search")
    from paperfeed.library import tokens
    from tests import foryou_support
    from tests.library_support import add_user

    foryou_support.load(engine)
    uid = add_user(engine, "fuzzer")
    foryou_support.save_library(engine, uid)
    with engine.begin() as conn:
        token = tokens.create_token(conn, uid, "api").token
    with serve(paperfeed_app(engine)) as url:
        run = st_run(url, str(tmp_path), "--include-path", "/api/foryou", "--header", f"Authorization: Bearer {token}")
    output = run.stdout + run.stderr
    print(output)
    assert run.returncode == 0, output[-20000:]
    cases = re.search(r"(\d+) generated, (\d+) passed", output)
    assert cases and cases[1] == cases[2] and int(cases[1]) > 0, output[-20000:]
    assert "Authentication failed" not in output  # it got past the token


def test_the_library_api_with_a_token_passes_every_check(engine, tmp_path, smtp):
    """The token-protected operations (issue #13) past their 401: `/api/library/...` and
    `POST /api/papers/index` with a live API token of a reader who has saved papers, a
    second collection and follows, so the fuzzer reaches the handlers, not just the 401."""
    from paperfeed.library import collection, follows, saved, tokens
    from tests.library_support import add_user, load_corpus

    load_corpus(engine)
    uid = add_user(engine, "fuzzer")
    with engine.begin() as conn:
        collection.create_collection(conn, uid, "Thesis", "Chapter two")
        for n in range(1, 6):
            saved.save(conn, uid, f"0704.000{n}", ["Thesis"] if n % 2 else None, note=f"note {n}")
        follows.follow(conn, uid, "author", "Ileana Streinu")
        follows.follow(conn, uid, "category", "hep-ph")
        token = tokens.create_token(conn, uid, "api").token
    operations = [
        (method, path) for path, methods in paperfeed_app(engine).openapi()["paths"].items() for method in methods
        if path.startswith("/api/library/") or path == "/api/papers/index"
    ]
    assert len(operations) >= 12, operations
    with serve(paperfeed_app(engine)) as url:
        run = st_run(url, str(tmp_path), "--include-path-regex", r"^/api/(library/|papers/index$)",
                     "--header", f"Authorization: Bearer {token}")
    output = run.stdout + run.stderr
    print(output)
    assert run.returncode == 0, output[-20000:]
    tested = re.search(r"Tested: (\d+)", output)
    assert tested and int(tested[1]) == len(operations), output[-20000:]
    cases = re.search(r"(\d+) generated, (\d+) passed", output)
    assert cases and cases[1] == cases[2] and int(cases[1]) > 0, output[-20000:]
    assert "Authentication failed" not in output  # it got past the token
    assert not smtp.messages, "a fuzzed request sent mail"


# --- what the fuzzer relies on, checked directly --------------------------------


@pytest.fixture
def site(engine):
    add_paper(engine, "2610.00001", "A Saturday paper", day=date(2026, 10, 3), upvotes=3)
    return client(engine)


def test_the_schema_holds_the_api_and_feeds_only(site):
    schema = site.get("/api/openapi.json").json()
    for path, operations in schema["paths"].items():
        assert path.startswith(("/api/", "/feeds/")) or path.endswith(".md"), path  # no HTML page
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "422" not in responses and "4XX" not in responses, (method, path)
            assert not [k for k in operation if k.startswith("x-paperfeed")]
            for status, response in responses.items():
                if status.startswith("4"):  # every error is {"error": ...} in JSON
                    assert list(response["content"]) == ["application/json"], (path, status)
                    assert response["content"]["application/json"]["schema"]["required"] == ["error"]
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert "429" in schema["paths"]["/api/papers/search"]["get"]["responses"]
    assert "429" in schema["paths"]["/feeds/search.{fmt}"]["get"]["responses"]
    assert list(schema["paths"]["/papers/{arxiv_id}.md"]["get"]["responses"]["200"]["content"]) == ["text/markdown"]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("date=", 200),  # empty: not given, as before
        ("week=2026-W40", 200),
        ("date=&week=2026-W40", 400),  # the schema says at most one, empty or not
        ("period=2026-10", 400),  # the schema's name for date/week/month is not a parameter
        ("limit=5&limit=6", 400),  # one value each: FastAPI would silently read the last
        ("submitter=a&submitter=b", 400),
        ("date=2026-10-03%0A", 400),  # a trailing newline is not a date
        ("unknown=1&unknown=2", 200),  # parameters the API does not read stay ignored
    ],
)
def test_daily_papers_read_what_the_schema_says(site, query, status):
    r = site.get(f"/api/daily_papers?{query}")
    assert r.status_code == status, r.text
    if status == 400:
        assert r.headers["content-type"] == "application/json" and r.json()["error"]


def test_errors_in_the_api_address_space_are_json(site):
    # no route matches an id with a newline: the router's own 404, still the API's shape
    for path in ("/papers/%0A.md", "/feeds/nothing.rss", "/api/nothing"):
        r = site.get(path)
        assert r.status_code == 404 and r.json()["error"], path
    assert site.get("/papers/%0A").headers["content-type"].startswith("text/html")  # a page


@pytest.mark.parametrize("blank", [" ", "%1E", "%EF%BB%BF", "%E3%80%80%09"])
def test_a_blank_search_feed_is_400_however_it_is_spelled(site, blank):
    # \x1e is a space to Python's str.strip but not to ECMA's or Rust's \s
    r = site.get(f"/feeds/search.rss?q={blank}")
    assert r.status_code == 400 and r.json()["error"]
