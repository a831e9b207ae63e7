"""arXiv API (Atom) ingestion: recorded responses, live paging over a replay server, hostile XML."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from paperfeed import ids
from paperfeed.cli import cli
from paperfeed.ingest import atom, http
from paperfeed.ingest.run import ingest_sources
from tests.ingest_support import count, edited, paper, rejects
from tests.replay import FIXTURES, ReplayServer

SEARCH = "arxiv-api/q_testing_s0_m100_cfe7536492ca.xml"  # 100 entries, totalResults 214881
PAIR = "arxiv-api/id_0808.05394_1707.08567_s0_m100_42e5aa0ec3af.xml"  # one of two ids exists
OLD_STYLE = "arxiv-api/id_astro-ph_0601001_s0_m100_3150dca9dc76.xml"
UNKNOWN = "arxiv-api/id_0000.0000_s0_m100_8b51d9633a68.xml"  # an empty feed
ERROR = "arxiv-api/id_abc_s0_m100_b79c8dcf6bc3.xml"  # arXiv's answer (HTTP 400) to id_list=abc


pytestmark = pytest.mark.usefixtures("waits")


@pytest.fixture
def server():
    with ReplayServer() as s:
        yield s


def test_search_response_ingests_with_fields(engine):
    summary = ingest_sources([str(FIXTURES / SEARCH)], engine=engine)
    assert (summary.read, summary.new, summary.rejected, summary.exit_status) == (100, 100, 0, 0)
    p = paper(engine, "2202.12139")
    assert p["title"] == "Testing Deep Learning Models: A First Comparative Study of Multiple Testing Techniques"
    assert p["authors"] == ["Mohit Kumar Ahuja", "Arnaud Gotlieb", "Helge Spieker"]
    assert p["categories"] == ["cs.SE", "cs.LG"] and p["primary_category"] == "cs.SE"
    assert p["doi"] == "10.1109/ICSTW55395.2022.00035"
    assert p["comments"].startswith("Artificial Intelligence in Software Testing 2022 workshop")
    assert p["journal_ref"].startswith("Artificial Intelligence in Software Testing @ 2022 IEEE")
    assert p["abstract"].startswith("Deep Learning (DL) has revolutionized")
    assert p["version"] == 1 and p["versions"] == [{"version": 1, "created": "2022-02-24T15:05:19+00:00"}]
    assert p["published"] == datetime(2022, 2, 24, 15, 5, 19, tzinfo=UTC)
    assert p["sources"]["title"] == "arxiv-api"
    # a third version: published dates v1, updated dates v3, v2 is known to exist
    p = paper(engine, "2204.08348")
    assert p["version"] == 3
    assert p["versions"] == [
        {"version": 1, "created": "2022-04-18T14:46:24+00:00"},
        {"version": 2, "created": None},
        {"version": 3, "created": "2022-07-06T05:12:56+00:00"},
    ]
    assert p["updated"] == datetime(2022, 7, 6, 5, 12, 56, tzinfo=UTC)


def test_id_lookups_including_old_style_and_unknown(engine):
    sources = [str(FIXTURES / f) for f in (PAIR, OLD_STYLE, UNKNOWN)]
    summary = ingest_sources(sources, engine=engine)
    assert (summary.read, summary.rejected, summary.exit_status) == (2, 0, 0)
    p = paper(engine, "astro-ph/0601001")
    assert p["authors"] == ["Andrew Gould", "Susan Dorsher", "B. Scott Gaudi", "Andrzej Udalski"]
    assert p["journal_ref"] == "ActaAstron.56:1-50,2006" and p["primary_category"] == "astro-ph"
    p = paper(engine, "1707.08567")
    assert len(p["authors"]) == 34 and p["authors"][0] == "Kees A. Schouhamer Immink"
    assert p["authors"][-1] == "Hirosuke Yamamoto"


def test_ingesting_twice_changes_nothing(engine):
    ingest_sources([str(FIXTURES / SEARCH)], engine=engine)
    again = ingest_sources([str(FIXTURES / SEARCH)], engine=engine)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 100)
    assert count(engine) == 100


def test_error_feed_is_a_reject_not_a_paper(engine, data_dir):
    summary = ingest_sources([str(FIXTURES / ERROR)], engine=engine)
    assert (summary.read, summary.rejected, summary.exit_status) == (0, 1, 2)
    assert count(engine) == 0
    [logged] = rejects(data_dir)
    assert logged["reason"] == "arXiv API error: incorrect id format for abc"
    assert logged["location"].startswith("entry 1")


def test_live_query_pages_by_start_and_max_results(engine, server):
    server.add("/api/query", SEARCH, query={"start": "0"})
    server.add("/api/query", PAIR, query={"start": "100"})  # says totalResults 1: ends the query
    url = server.url("/api/query?search_query=all:testing&start=0&max_results=150")
    summary = ingest_sources([url], engine=engine)
    assert (summary.read, summary.exit_status) == (101, 0)
    asked = [(r.query["start"], r.query["max_results"], r.query["search_query"]) for r in server.requests]
    assert asked == [("0", "100", "all:testing"), ("100", "50", "all:testing")]


def test_live_query_stops_on_an_empty_page(engine, server):
    server.add("/api/query", SEARCH, query={"start": "0"})
    server.add("/api/query", UNKNOWN, query={"start": "100"})
    summary = ingest_sources([server.url("/api/query?search_query=all:testing&max_results=1000")], engine=engine)
    assert summary.read == 100
    assert [r.query["start"] for r in server.requests] == ["0", "100"]


def test_live_query_respects_total_results(server):
    server.add("/api/query", OLD_STYLE)
    got = list(atom.fetch(server.url("/api/query?id_list=astro-ph/0601001&max_results=100"), "test"))
    assert [type(r).__name__ for r in got] == ["PaperRecord", "Checkpoint"]  # one page, stored
    assert got[0].arxiv_id == "astro-ph/0601001"
    assert len(server.requests) == 1


def test_user_agent_names_paperfeed(server):
    server.add("/api/query", UNKNOWN)
    list(atom.fetch(server.url("/api/query?id_list=0000.0000"), "test"))
    assert server.requests[0].headers["User-Agent"].startswith("paperfeed/")


def test_live_error_feed_with_http_400(engine, server, data_dir):
    server.add("/api/query", ERROR, status=400)
    summary = ingest_sources([server.url("/api/query?id_list=abc")], engine=engine)
    assert (summary.read, summary.rejected, summary.exit_status) == (0, 1, 2)
    assert rejects(data_dir)[0]["reason"] == "arXiv API error: incorrect id format for abc"


def test_retry_after_is_honoured_then_succeeds(engine, server, waits):
    server.add("/api/query", OLD_STYLE, busy_first=2, retry_after="7")
    summary = ingest_sources([server.url("/api/query?id_list=astro-ph/0601001")], engine=engine)
    assert (summary.read, summary.exit_status) == (1, 0)
    assert len(server.requests) == 3 and waits == [7.0, 7.0]


def test_retry_after_really_waits(server, monkeypatch):
    monkeypatch.setattr(http, "SLEEP", time.sleep)
    server.add("/api/query", OLD_STYLE, busy_first=1, retry_after="1")
    began = time.monotonic()
    items = list(atom.fetch(server.url("/api/query?id_list=astro-ph/0601001"), "t"))
    assert items[0].arxiv_id == "astro-ph/0601001"
    assert time.monotonic() - began >= 1.0


def test_retry_after_as_http_date_and_capped(server, waits, monkeypatch):
    now = datetime(2026, 4, 12, 22, 0, 0, tzinfo=UTC)
    assert http.retry_after("Sun, 12 Apr 2026 22:00:30 GMT", now) == 30.0
    assert http.retry_after("120") == 120.0 and http.retry_after("soon") is None
    monkeypatch.setattr(http, "MAX_WAIT", 5.0)
    server.add("/api/query", OLD_STYLE, busy_first=1, retry_after="3600")
    list(atom.fetch(server.url("/api/query?id_list=astro-ph/0601001"), "t"))
    assert waits == [5.0]


def test_gives_up_after_retries_with_backoff(engine, server, waits, monkeypatch, data_dir):
    monkeypatch.setenv("PAPERFEED_HTTP_RETRIES", "2")
    server.add("/api/query", OLD_STYLE, fail_always=True)
    url = server.url("/api/query?id_list=astro-ph/0601001")
    summary = ingest_sources([url], engine=engine)
    assert summary.exit_status == 2 and summary.failed_inputs == [url]
    assert len(server.requests) == 3 and waits == [http.BACKOFF, 2 * http.BACKOFF]
    assert "HTTP 500" in rejects(data_dir)[0]["reason"]
    assert "gave up after 3 attempts" in rejects(data_dir)[0]["reason"]


def test_polite_delay_between_requests_to_one_host(server, waits, monkeypatch):
    monkeypatch.setenv("PAPERFEED_ARXIV_DELAY", "3")
    server.add("/api/query", SEARCH, query={"start": "0"})
    server.add("/api/query", UNKNOWN, query={"start": "100"})
    list(atom.fetch(server.url("/api/query?search_query=all:testing&max_results=200"), "t"))
    assert len(waits) == 1 and 2.0 < waits[0] <= 3.0


def test_query_url_and_fetch_ids(server, monkeypatch):
    monkeypatch.setenv("PAPERFEED_ARXIV_API_URL", server.url("/api/query"))
    assert atom.query_url(id_list=["astro-ph/0601001", "1707.08567"], max_results=2) == (
        server.url("/api/query?id_list=astro-ph/0601001,1707.08567&start=0&max_results=2")
    )
    server.add("/api/query", OLD_STYLE, query={"id_list": "astro-ph/0601001"})
    server.add("/api/query", UNKNOWN, query={"id_list": "0000.0000"})
    [record] = atom.fetch_ids(["https://arxiv.org/abs/astro-ph/0601001v1"])
    assert record.arxiv_id == "astro-ph/0601001" and record.title.startswith("Frequency of Hot Jupiters")
    assert server.requests[0].query["max_results"] == "1"
    assert atom.fetch_ids(["0000.0000"]) == []
    with pytest.raises(ids.BadArxivId):
        atom.fetch_ids(["abc"])
    assert len(server.requests) == 2  # the bad id never left the machine


def test_cli_ingest_url_end_to_end(engine, server):
    server.add("/api/query", PAIR)
    result = CliRunner().invoke(cli, ["ingest", server.url("/api/query?id_list=0808.05394,1707.08567")])
    assert result.exit_code == 0, result.output
    assert "new 1" in result.output
    assert paper(engine, "1707.08567")["primary_category"] == "cs.IT"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE feed [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/abs/2202.12139v1</id>
<title>&lol9;</title><summary>&lol9;</summary></entry></feed>
"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/abs/2202.12139v1</id>
<title>leak</title><summary>&e;</summary></entry></feed>
"""


@pytest.mark.parametrize("doc", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["billion-laughs", "external-entity"])
def test_entity_declarations_are_refused_unexpanded(engine, tmp_path, data_dir, doc):
    path = tmp_path / "hostile.xml"
    path.write_bytes(doc)
    began = time.monotonic()
    summary = ingest_sources([str(path)], engine=engine)
    assert time.monotonic() - began < 5
    assert (summary.read, summary.rejected, summary.exit_status) == (0, 1, 2)
    assert count(engine) == 0
    [logged] = rejects(data_dir)
    assert logged["location"] == "document" and "declares entities" in logged["reason"]
    assert "root:" not in (data_dir / "rejects.jsonl").read_text()


def test_truncated_feed_keeps_the_entries_before_the_break(engine, tmp_path, data_dir):
    def cut(raw: bytes) -> bytes:
        fourth = raw.index(b"<entry>", raw.index(b"<entry>", raw.index(b"<entry>", raw.index(b"<entry>") + 1) + 1) + 1)
        return raw[: fourth + 200]

    summary = ingest_sources([edited(tmp_path, SEARCH, cut)], engine=engine)
    assert (summary.read, summary.rejected, summary.exit_status) == (3, 1, 1)
    [logged] = rejects(data_dir)
    assert logged["location"].startswith("line ") and "broken at line" in logged["reason"]
    line = int(logged["location"].split()[1])
    assert 80 < line < 100  # the fourth entry starts at line 85 of the recorded feed


def test_entries_without_id_or_abstract_are_rejected_with_position(engine, tmp_path, data_dir):
    def damage(raw: bytes) -> bytes:
        raw = raw.replace(b"<id>http://arxiv.org/abs/2405.13786v1</id>", b"")  # entry 2
        start = raw.index(b"<summary>", raw.index(b"abs/2204.08348v3</id>"))  # a later entry
        return raw[:start] + raw[raw.index(b"</summary>", start) + len(b"</summary>"):]

    summary = ingest_sources([edited(tmp_path, SEARCH, damage)], engine=engine)
    assert (summary.read, summary.rejected, summary.exit_status) == (98, 2, 1)
    found = {r["reason"]: r["location"] for r in rejects(data_dir)}
    assert found["missing id"].startswith("entry 2 (line ")
    assert found["missing abstract"].startswith("entry ")
    assert count(engine) == 98


def test_pages_before_a_failure_are_kept(engine, server, monkeypatch):
    monkeypatch.setenv("PAPERFEED_HTTP_RETRIES", "0")
    server.add("/api/query", SEARCH, query={"start": "0"})
    server.add("/api/query", SEARCH, query={"start": "100"}, fail_always=True)
    summary = ingest_sources([server.url("/api/query?search_query=all:testing&max_results=200")], engine=engine)
    assert summary.exit_status == 1 and len(summary.failed_inputs) == 1
    assert count(engine) == 100  # page 1 was committed at its checkpoint


def test_max_wait_can_be_passed_per_call(server, waits):
    server.add("/api/query", OLD_STYLE, busy_first=1, retry_after="3600")
    http.get(server.url("/api/query"), {"id_list": "astro-ph/0601001"}, max_wait=0.5)
    assert waits == [0.5]
