"""
`paperfeed mcp` driven by the official SDK's own client, over stdio (the
client starts `python -m paperfeed.cli mcp`) and over Streamable HTTP (a
server on a free loopback port), against a real database and a real (small)
search index: the tools are listed, a search through them returns the ids
`/api/papers/search` returns for the same query, the library and For you
tools refuse without a token and answer with one, and bad input is a tool
error in words.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from paperfeed.library import saved, tokens
from paperfeed.web import accounts
from tests.test_web_foryou import NOW, OFF_TOPIC, OLD, ON_TOPIC, SAVED, TOPIC
from tests.webdata import add_paper, client

pytest.importorskip("mcp")
search = pytest.importorskip("paperfeed.search")
from mcp import Client  # noqa: E402
from mcp.client.stdio import StdioServerParameters  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TOOLS = {"search_papers", "paper_info", "daily_papers", "similar_papers", "library_collections",
         "library_papers", "for_you"}
QUERIES = ["state space sequence models", "galaxy clusters weak lensing", "cat:cs.LG"]
YESTERDAY = (NOW - timedelta(days=1)).date()


@pytest.fixture
def corpus(engine, data_dir):
    """The For you page's corpus, indexed, and a reader with three saved papers and an API token."""
    for arxiv_id, title, abstract in SAVED:
        add_paper(engine, arxiv_id, title, abstract=abstract, published=OLD)
    for n, (arxiv_id, title, abstract, votes) in enumerate(ON_TOPIC + OFF_TOPIC):
        add_paper(engine, arxiv_id, title, abstract=abstract, published=NOW - timedelta(days=1, hours=n),
                  day=YESTERDAY if votes else None, upvotes=votes, authors=[f"Author {n}"])
    search.update_index(engine)
    uid = accounts.create_user(engine, "ada", "correct horse")
    with engine.begin() as conn:
        for arxiv_id, _, _ in SAVED:
            saved.save(conn, uid, arxiv_id)
        token = tokens.create_token(conn, uid, "api", name="agent")
    return engine, uid, token


def environment(**extra: str) -> dict[str, str]:
    """This process's settings (data dir, database) for the server, this checkout first on the path."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, **extra}


def stdio(**extra: str) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "paperfeed.cli", "mcp"], env=environment(**extra))


def api_ids(engine, query: str, limit: int = 10) -> list[str]:
    r = client(engine).get("/api/papers/search", params={"q": query, "limit": limit})
    assert r.status_code == 200, r.text
    return [item["paper"]["id"] for item in r.json()]


async def call(session: Client, tool: str, **arguments):
    """(is_error, structured content or the error text)."""
    result = await session.call_tool(tool, arguments)
    if result.is_error:
        return True, " ".join(c.text for c in result.content)
    return False, result.structured_content


async def public_tools_answer_like_the_api(session: Client, engine) -> None:
    listed = await session.list_tools()
    assert {t.name for t in listed.tools} == TOOLS
    assert all(t.annotations.read_only_hint for t in listed.tools)
    for query in QUERIES:
        error, found = await call(session, "search_papers", query=query, limit=10)
        assert not error, found
        ids = [p["id"] for p in found["papers"]]
        assert ids and ids == api_ids(engine, query), query
    error, found = await call(session, "search_papers", query="state space sequence models", limit=3)
    assert [p["id"] for p in found["papers"]] == api_ids(engine, "state space sequence models", 3)
    first = found["papers"][0]
    assert first["id"] in TOPIC | {s[0] for s in SAVED} and first["authors"] and first["summary"] and first["url"].endswith(first["id"])

    error, info = await call(session, "paper_info", arxiv_id="2312.00752v2")
    assert not error and info["id"] == "2312.00752" and info["title"].startswith("Mamba")
    assert info["bibtex"].startswith("@misc{2312.00752,")
    error, day = await call(session, "daily_papers", date=YESTERDAY.isoformat())
    assert not error and [p["id"] for p in day["papers"]] == ["2611.00001", "2611.00003"]  # by upvotes
    assert [p["upvotes"] for p in day["papers"]] == [50, 1]
    error, like = await call(session, "similar_papers", arxiv_id="2611.00001", limit=3)
    assert not error and len(like["papers"]) == 3 and "2611.00001" not in [p["id"] for p in like["papers"]]
    assert {p["id"] for p in like["papers"][:2]} <= TOPIC | {s[0] for s in SAVED}

    # bad input: a tool error in words, never a traceback
    for tool, arguments, words in [
        ("search_papers", {"query": "ssm", "limit": 500}, "less than or equal to 120"),
        ("search_papers", {"query": "   "}, "query is empty"),
        ("paper_info", {"arxiv_id": "not an id"}, "is not an arXiv id"),
        ("paper_info", {"arxiv_id": "2612.99999"}, "no paper 2612.99999 is stored"),
        ("similar_papers", {"arxiv_id": "2612.99999"}, "no paper 2612.99999 is stored"),
        ("daily_papers", {"date": "2026-13-01"}, "date must be YYYY-MM-DD"),
        ("daily_papers", {"date": "1066-10-14"}, "years 1900 to 2200"),
        ("library_papers", {"limit": 0}, "greater than or equal to 1"),
    ]:
        error, text = await call(session, tool, **arguments)
        assert error and words in text and "Traceback" not in text, (tool, text)


async def personal_tools_refuse(session: Client, why: str) -> None:
    for tool in ("library_collections", "library_papers", "for_you"):
        error, text = await call(session, tool)
        assert error and why in text, (tool, text)


async def personal_tools_answer(session: Client) -> None:
    error, found = await call(session, "library_collections")
    assert not error and [(c["name"], c["papers"]) for c in found["collections"]] == [("Reading list", 3)]
    error, page = await call(session, "library_papers", sort="title", limit=2)
    assert not error and page["total"] == 3 and len(page["papers"]) == 2
    assert [p["id"] for p in page["papers"]] == ["2111.00396", "2312.00752"]  # Efficiently…, Mamba…
    assert page["papers"][0]["collections"] == [found["collections"][0]["id"]]
    error, text = await call(session, "library_papers", category="not a category")
    assert error and "not an arXiv category" in text
    error, mine = await call(session, "for_you", window="week", limit=5)
    assert not error, mine
    assert {p["id"] for p in mine["papers"][:3]} == TOPIC
    why = mine["papers"][0]["why"]
    assert why and "in your library" in why[0] and set(mine["papers"][0]["closest"]) <= {s[0] for s in SAVED}


def test_over_stdio(corpus):
    engine, uid, token = corpus

    async def anonymous():
        async with Client(stdio(PAPERFEED_MCP_TOKEN="")) as session:
            await public_tools_answer_like_the_api(session, engine)
            await personal_tools_refuse(session, "needs a personal access token")

    async def with_token():
        async with Client(stdio(PAPERFEED_MCP_TOKEN=token.token)) as session:
            await personal_tools_answer(session)
            with engine.begin() as conn:
                tokens.revoke(conn, uid, token.info.id)
            await personal_tools_refuse(session, "not valid")  # checked on every call

    asyncio.run(anonymous())
    asyncio.run(with_token())


SEARCHES = 8  # over HTTP, per client address (the public tools' checks make 4)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def http_server(corpus):
    """`paperfeed mcp --transport http` on a free loopback port, given the reader's token in its
    environment (which it must ignore over HTTP)."""
    _, _, token = corpus
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "paperfeed.cli", "mcp", "--transport", "http", "--port", str(port)],
        env=environment(PAPERFEED_MCP_TOKEN=token.token, PAPERFEED_RATE_LIMIT_SEARCH=f"{SEARCHES}/3600"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 90
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the MCP server did not start: {process.communicate()[1].decode()}") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
        assert b"Traceback" not in err, err.decode()


def test_over_http(corpus, http_server):
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    engine, _, token = corpus

    async def with_header(value: str):
        return httpx2.AsyncClient(headers={"Authorization": value})

    async def run():
        async with Client(http_server) as session:
            await public_tools_answer_like_the_api(session, engine)
            await personal_tools_refuse(session, "needs a personal access token")  # the environment's token is not used
        async with await with_header("Bearer pf_unknown") as http, \
                Client(streamable_http_client(http_server, http_client=http)) as session:
            await personal_tools_refuse(session, "not valid")
        async with await with_header(f"Bearer {token.token}") as http, \
                Client(streamable_http_client(http_server, http_client=http)) as session:
            await personal_tools_answer(session)
        # a page in the reader's browser cannot reach it (DNS rebinding): another Host is refused
        async with httpx2.AsyncClient() as http:
            r = await http.post(http_server, headers={"Host": "evil.example", "Content-Type": "application/json",
                                                      "Accept": "application/json, text/event-stream"},
                                content=b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}')
            assert r.status_code in (403, 421), r.status_code
        # searches count against the client address's limit, as on the site
        async with Client(http_server) as session:
            answers = [await call(session, "search_papers", query="state space") for _ in range(SEARCHES)]
        refused = [text for error, text in answers if error]
        assert refused and "too many searches from this address; try again in" in refused[0]
        assert not answers[0][0]

    asyncio.run(run())


# --- an install without the `mcp` extra ----------------------------------------------

WITHOUT_MCP = """
import sys

class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "mcp":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
from paperfeed.cli import main
sys.argv[0] = "paperfeed"
main()
"""


def test_without_the_extra_the_command_says_what_to_install(data_dir):
    done = subprocess.run([sys.executable, "-c", WITHOUT_MCP, "mcp"], env=environment(), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.strip() == "Error: the MCP server is not installed (mcp is missing): pip install 'paperfeed[mcp]'"
    assert done.stdout == ""


def test_the_cli_does_not_load_the_sdk():
    code = "import sys, paperfeed.cli; print(' '.join(m for m in ('mcp', 'paperfeed.mcp_server.server') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], env=environment(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "", done.stdout + done.stderr
