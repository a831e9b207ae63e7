"""`paperfeed ingest arxiv --categories ...`: OAI-PMH harvests by category over the replay server."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from paperfeed.cli import cli
from paperfeed.ingest import harvest, oai
from paperfeed.models import Paper
from tests.replay import ReplayServer

LIST = "oai-pmh/ListRecordsResponse.xml"  # 6 records (2 in nucl-th, 1 in math.AG), token 726959|1001
PAGE2 = "oai-pmh/ListRecordsResponse.page2.derived.xml"  # hep-ph/hep-ex and nucl-th
NO_RECORDS = "oai-pmh/ErrorResponseNoRecordsMatch.xml"
TOKEN = "726959|1001"


pytestmark = pytest.mark.usefixtures("waits")


@pytest.fixture
def server(monkeypatch):
    with ReplayServer() as s:
        monkeypatch.setenv("PAPERFEED_ARXIV_OAI_URL", s.url("/oai"))
        yield s


def stored(engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(Paper.arxiv_id)).scalars())


def run(*args: str):
    return CliRunner().invoke(cli, ["ingest", "arxiv", *args])


def test_harvests_the_categories_set_and_keeps_only_them(engine, server):
    server.add("/oai", LIST, query={"verb": "ListRecords", "set": "physics:nucl-th", "from": "2014-11-01"})
    server.add("/oai", PAGE2, query={"verb": "ListRecords", "resumptionToken": TOKEN})
    result = run("--categories", "nucl-th", "--since", "2014-11-01")
    assert result.exit_code == 0, result.output
    assert stored(engine) == {"0704.0471", "0704.1586"}  # nucl-ex nucl-th, nucl-th
    assert "new 2" in result.output and "other categories skipped 5" in result.output
    first = server.requests[0].query
    assert first == {"verb": "ListRecords", "metadataPrefix": "arXivRaw", "set": "physics:nucl-th", "from": "2014-11-01"}
    assert server.requests[1].query == {"verb": "ListRecords", "resumptionToken": TOKEN}


def test_next_run_continues_from_the_last_harvest_and_says_nothing_new(engine, server):
    server.add("/oai", LIST, query={"verb": "ListRecords", "set": "physics:nucl-th", "from": "2014-11-01"})
    server.add("/oai", PAGE2, query={"verb": "ListRecords", "resumptionToken": TOKEN})
    server.add("/oai", NO_RECORDS, query={"verb": "ListRecords", "set": "physics:nucl-th", "from": "2015-01-06"})
    assert run("--categories", "nucl-th", "--since", "2014-11-01").exit_code == 0
    # no --since: from the day the last complete harvest of the set began (the first response's date)
    result = run("--categories", "nucl-th")
    assert result.exit_code == 0, result.output
    assert server.requests[-1].query["from"] == "2015-01-06"
    assert "no new papers" in result.output


def test_first_run_without_since_starts_yesterday(engine, server):
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    server.add("/oai", NO_RECORDS, query={"verb": "ListRecords", "set": "cs", "from": yesterday})
    result = run("--categories", "cs.LG,cs.CL")
    assert result.exit_code == 0, result.output
    assert [r.query["set"] for r in server.requests] == ["cs"]  # one set for both categories
    assert "no new papers" in result.output and "read 0" in result.output


def test_one_harvest_per_set(engine, server):
    server.add("/oai", LIST, query={"verb": "ListRecords", "set": "math"})
    server.add("/oai", LIST, query={"verb": "ListRecords", "set": "physics:nucl-th"})
    server.add("/oai", PAGE2, query={"verb": "ListRecords", "resumptionToken": TOKEN})
    result = run("--categories", "math.AG nucl-th", "--since", "7d")
    assert result.exit_code == 0, result.output
    assert stored(engine) == {"0704.0874", "0704.0471", "0704.1586"}
    sets = [r.query.get("set") for r in server.requests if "set" in r.query]
    assert sets == ["math", "physics:nucl-th"]
    assert server.requests[0].query["from"] == (datetime.now(UTC).date() - timedelta(days=7)).isoformat()


def test_unreachable_arxiv_exits_2_and_stores_nothing(engine, server, data_dir):
    server.add("/oai", query={"verb": "ListRecords"}, fail_always=True)
    result = run("--categories", "cs.LG", "--since", "yesterday")
    assert result.exit_code == 2, result.output
    assert stored(engine) == set()
    assert "request" in (data_dir / "rejects.jsonl").read_text()
    # the frontier did not move: the next run asks for the same range again
    assert oai.load_state(engine, harvest.state_key(server.url("/oai"), "cs")) == {}


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "needs --categories"),
        (["--categories", "cs.XX,bogus.AB"], "unknown arXiv archive 'bogus'"),
        (["--categories", "cs.LG", "--since", "last week"], "expected YYYY-MM-DD"),
        (["--categories", "cs.LG", "--format", "oai"], "--format does not apply"),
    ],
)
def test_usage_errors(engine, args, message):
    result = run(*args)
    assert result.exit_code == 2 and message in result.output


def test_arxiv_keyword_does_not_mix_with_files(engine):
    result = CliRunner().invoke(cli, ["ingest", "arxiv", "papers.jsonl", "--categories", "cs.LG"])
    assert result.exit_code == 2 and "single source `arxiv`" in result.output


def test_sets_and_category_matching():
    assert harvest.oai_set("cs.LG") == "cs"
    assert harvest.oai_set("astro-ph.GA") == "physics:astro-ph"
    assert harvest.oai_set("hep-th") == "physics:hep-th"
    assert harvest.oai_set("q-bio.NC") == "q-bio"
    assert harvest.oai_set("math") == "math"
    keep = harvest.matcher(["cs.LG", "astro-ph", "math"])
    assert keep(["stat.ML", "cs.LG"])  # cross-listed
    assert keep(["astro-ph.GA"]) and keep(["astro-ph"]) and keep(["math.AG"])
    assert not keep(["cs.CL"]) and not keep(["math-ph"]) and not keep(["stat.ML"])


def test_since_forms():
    today = date(2026, 11, 22)
    assert harvest.parse_since("yesterday", today) == date(2026, 11, 21)
    assert harvest.parse_since("today", today) == today
    assert harvest.parse_since("3d", today) == date(2026, 11, 19)
    assert harvest.parse_since("2026-11-01", today) == date(2026, 11, 1)
    with pytest.raises(ValueError):
        harvest.parse_since("soon", today)
