"""OAI-PMH ingestion: recorded responses in both arXiv formats, resumable harvests, hostile XML."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from paperfeed.cli import cli
from paperfeed.ingest import oai, xmlsafe
from paperfeed.ingest.run import Checkpoint, RejectLog, Summary, ingest, ingest_sources
from paperfeed.models import Paper
from tests.ingest_support import count, edited, paper, rejects
from tests.replay import FIXTURES, ReplayServer

LIST = "oai-pmh/ListRecordsResponse.xml"  # 6 arXivRaw records, resumptionToken 726959|1001
PAGE2 = "oai-pmh/ListRecordsResponse.page2.derived.xml"  # derived: 2 records, empty token
GET = "oai-pmh/GetRecordResponse.xml"
ARXIV_FORMAT = "oai-pmh/ListRecordsArXivFormat.handwritten.xml"  # hand-written, see its comment
TOKEN = "726959|1001"
ERRORS = {
    "badArgument": "oai-pmh/ErrorResponseBadArgument.xml",
    "badResumptionToken": "oai-pmh/ErrorResponseBadResumptionToken.xml",
    "badVerb": "oai-pmh/ErrorResponseBadVerb.xml",
    "idDoesNotExist": "oai-pmh/ErrorResponseIdDoesNotExist.xml",
}
NO_RECORDS = "oai-pmh/ErrorResponseNoRecordsMatch.xml"


pytestmark = pytest.mark.usefixtures("waits")


@pytest.fixture
def server():
    with ReplayServer() as s:
        yield s


def harvestable(server: ReplayServer) -> str:
    """Routes for a two-page arXivRaw harvest; returns the harvest URL."""
    server.add("/oai", LIST, query={"verb": "ListRecords", "metadataPrefix": "arXivRaw"})
    server.add("/oai", PAGE2, query={"verb": "ListRecords", "resumptionToken": TOKEN})
    return server.url("/oai?verb=ListRecords&metadataPrefix=arXivRaw")


def test_list_records_arxivraw_ingests_with_fields(engine):
    summary = ingest_sources([str(FIXTURES / LIST)], engine=engine)
    assert (summary.read, summary.new, summary.rejected, summary.exit_status) == (6, 6, 0, 0)
    p = paper(engine, "0704.0716")
    assert p["version"] == 4
    assert [(v["version"], v["created"]) for v in p["versions"]] == [
        (1, "2007-04-05T12:45:03+00:00"),
        (2, "2007-09-28T15:13:43+00:00"),
        (3, "2008-02-29T16:05:39+00:00"),
        (4, "2008-11-14T09:07:25+00:00"),
    ]
    assert p["published"] == datetime(2007, 4, 5, 12, 45, 3, tzinfo=UTC)
    assert p["updated"] == datetime(2008, 11, 14, 9, 7, 25, tzinfo=UTC)
    assert p["categories"] == ["math-ph", "math.MP"] and p["primary_category"] == "math-ph"
    assert p["submitter"] == "Christoph Richard"
    assert p["license"] == "http://arxiv.org/licenses/nonexclusive-distrib/1.0/"
    assert p["comments"].startswith("54 pages, 2 figures; v2 updated and slightly expanded; v3 changes in some")
    assert p["sources"]["abstract"] == "oai:arXivRaw"
    p = paper(engine, "0704.0471")
    assert p["authors"] == ["D.V. Shetty", "S.J. Yennello", "G.A. Souliotis"]
    assert p["title"].startswith("Density dependence of the symmetry energy and the nuclear equation of state:")
    assert p["doi"] == "10.1103/PhysRevC.76.024606 10.1103/PhysRevC.76.039902"
    assert p["abstract"].startswith("The density dependence") and "\n" not in p["abstract"]
    assert paper(engine, "0704.1109")["authors"] == ["Valeria M. Rosa", "Patricio S. letelier"]


def test_get_record_ingests(engine):
    summary = ingest_sources([str(FIXTURES / GET)], engine=engine)
    assert (summary.read, summary.exit_status) == (1, 0)
    p = paper(engine, "1302.2146")
    assert p["authors"] == ["Joshua Berger", "Maxim Perelstein", "Michael Saelim", "Philip Tanedo"]
    assert [v["version"] for v in p["versions"]] == [1, 2] and p["categories"] == ["hep-ph", "hep-ex"]


def test_arxiv_metadata_format_and_deleted_records(engine):
    summary = ingest_sources([str(FIXTURES / ARXIV_FORMAT)], engine=engine)
    # the deleted record is skipped, not rejected
    assert (summary.read, summary.rejected, summary.exit_status) == (3, 0, 0)
    p = paper(engine, "0704.0001")
    assert p["authors"] == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan"]
    assert p["published"] == datetime(2007, 4, 2, tzinfo=UTC)
    assert p["updated"] == datetime(2007, 7, 24, tzinfo=UTC)
    assert p["report_no"] == "ANL-HEP-PR-07-12" and p["journal_ref"] == "Phys.Rev.D76:013009,2007"
    assert p["sources"]["title"] == "oai:arXiv"
    assert paper(engine, "0704.0002")["categories"] == ["math.CO", "cs.CG"]
    p = paper(engine, "0704.0999")
    assert p["authors"] == ["Alan B. Example Jr", "Carla Sample"] and p["version"] == 1
    with engine.connect() as conn:
        assert conn.execute(select(Paper).where(Paper.arxiv_id == "0704.0003")).first() is None


def test_ingesting_twice_changes_nothing(engine):
    sources = [str(FIXTURES / f) for f in (LIST, GET, ARXIV_FORMAT)]
    ingest_sources(sources, engine=engine)
    again = ingest_sources(sources, engine=engine)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 10)
    assert count(engine) == 10


@pytest.mark.parametrize("code", sorted(ERRORS))
def test_oai_errors_are_rejects(engine, data_dir, code):
    summary = ingest_sources([str(FIXTURES / ERRORS[code])], engine=engine)
    assert (summary.read, summary.rejected, summary.exit_status) == (0, 1, 2)
    assert rejects(data_dir)[0]["reason"].startswith(f"OAI-PMH error {code}: ")


def test_no_records_match_is_not_an_error(engine, data_dir):
    summary = ingest_sources([str(FIXTURES / NO_RECORDS)], engine=engine)
    assert (summary.read, summary.rejected, summary.exit_status) == (0, 0, 0)
    assert rejects(data_dir) == []


def test_harvest_follows_resumption_tokens(engine, server):
    url = harvestable(server)
    summary = ingest_sources([url], engine=engine)
    assert (summary.read, summary.new, summary.unchanged, summary.exit_status) == (8, 7, 1, 0)
    assert [r.query for r in server.requests] == [
        {"verb": "ListRecords", "metadataPrefix": "arXivRaw"},
        {"verb": "ListRecords", "resumptionToken": TOKEN},
    ]
    key = f"oai:{server.url('/oai')}::arXivRaw"
    # the harvest started on the first response's day; the next one starts there
    assert oai.load_state(engine, key) == {"last": "2015-01-06"}


def test_next_harvest_is_incremental_from_the_last(engine, server):
    url = harvestable(server)
    ingest_sources([url], engine=engine)
    again = ingest_sources([url], engine=engine)
    assert (again.new, again.exit_status) == (0, 0)
    assert server.requests[2].query == {"verb": "ListRecords", "metadataPrefix": "arXivRaw", "from": "2015-01-06"}
    ingest_sources([url + "&from=2014-10-01&set=physics"], engine=engine)
    assert server.requests[4].query["from"] == "2014-10-01" and server.requests[4].query["set"] == "physics"


def test_interrupted_harvest_resumes_from_the_stored_token(engine, server, monkeypatch):
    monkeypatch.setenv("PAPERFEED_HTTP_RETRIES", "1")
    url = harvestable(server)
    page2 = server.match("/oai", {"verb": "ListRecords", "resumptionToken": TOKEN})
    page2.fail_always = True  # the source goes away after page 1
    first = ingest_sources([url], engine=engine)
    assert first.exit_status == 1 and first.failed_inputs == [url]
    assert count(engine) == 6  # page 1 was committed before its token was stored
    key = f"oai:{server.url('/oai')}::arXivRaw"
    assert oai.load_state(engine, key)["token"] == TOKEN

    page2.fail_always = False
    seen = len(server.requests)
    second = ingest_sources([url], engine=engine)
    assert (second.read, second.new, second.exit_status) == (2, 1, 0)
    assert [r.query for r in server.requests[seen:]] == [{"verb": "ListRecords", "resumptionToken": TOKEN}]
    assert count(engine) == 7
    assert oai.load_state(engine, key) == {"last": "2015-01-06"}


def test_expired_token_restarts_from_the_from_date(engine, server):
    url = harvestable(server)
    server.add("/oai", ERRORS["badResumptionToken"], query={"resumptionToken": "stale"})
    key = f"oai:{server.url('/oai')}::arXivRaw"
    args = {"metadataPrefix": "arXivRaw", "from": "2014-10-01"}
    oai.save_state(engine, key, {"args": args, "token": "stale", "started": "2015-01-01", "last": "2014-10-01"})
    summary = ingest_sources([url], engine=engine)
    assert (summary.read, summary.rejected, summary.exit_status) == (8, 0, 0)
    assert [r.query.get("resumptionToken") or r.query.get("from") for r in server.requests] == [
        "stale",
        "2014-10-01",
        TOKEN,
    ]
    assert oai.load_state(engine, key) == {"last": "2015-01-06"}


def test_token_is_stored_only_after_the_page_is_committed(engine, server):
    harvestable(server)
    items = oai.fetch(server.url("/oai?verb=ListRecords"), "t", engine=engine)
    kinds = [type(i).__name__ for i in items]
    assert kinds == ["PaperRecord"] * 6 + ["Checkpoint"] + ["PaperRecord"] * 2 + ["Checkpoint"]
    assert count(engine) == 0  # fetch itself writes no paper, and no token until called back


def test_checkpoint_commits_the_batch_first(engine, server):
    harvestable(server)
    stored_at_checkpoint = []
    source = oai.fetch(server.url("/oai?verb=ListRecords"), "t", engine=engine)

    def watched():
        for item in source:
            if isinstance(item, Checkpoint):
                commit = item.commit
                yield Checkpoint(lambda commit=commit: (stored_at_checkpoint.append(count(engine)), commit()))
            else:
                yield item

    ingest(watched(), engine, RejectLog(), Summary(), "t", batch_size=1000)
    assert stored_at_checkpoint == [6, 7]


def test_no_records_match_live_completes_the_harvest(engine, server, data_dir):
    server.add("/oai", NO_RECORDS, query={"set": "moo"})
    summary = ingest_sources([server.url("/oai?verb=ListRecords&metadataPrefix=arXivRaw&set=moo")], engine=engine)
    assert (summary.read, summary.rejected, summary.exit_status) == (0, 0, 0)
    assert oai.load_state(engine, f"oai:{server.url('/oai')}:moo:arXivRaw") == {"last": "2015-06-23"}


def test_live_bad_argument_is_a_reject(engine, server, data_dir):
    server.add("/oai", ERRORS["badArgument"], status=400)
    summary = ingest_sources([server.url("/oai?verb=ListRecords&identifier=x")], engine=engine)
    assert (summary.read, summary.rejected, summary.exit_status) == (0, 1, 2)
    assert rejects(data_dir)[0]["reason"].startswith("OAI-PMH error badArgument")


def test_harvest_honours_retry_after(engine, server, waits):
    url = harvestable(server)
    server.match("/oai", {"verb": "ListRecords", "metadataPrefix": "arXivRaw"}).busy_first = 1
    server.match("/oai", {"verb": "ListRecords", "metadataPrefix": "arXivRaw"}).retry_after = "20"
    summary = ingest_sources([url], engine=engine)
    assert (summary.read, summary.exit_status) == (8, 0)
    assert waits == [20.0] and len(server.requests) == 3


def test_get_record_url_is_one_request_without_state(engine, server):
    server.add("/oai", GET, query={"verb": "GetRecord"})
    url = server.url("/oai?verb=GetRecord&identifier=oai:arXiv.org:1302.2146&metadataPrefix=arXivRaw")
    summary = ingest_sources([url], engine=engine)
    assert (summary.read, summary.exit_status) == (1, 0) and len(server.requests) == 1


def test_cli_ingest_oai_url_end_to_end(engine, server):
    url = harvestable(server)
    result = CliRunner().invoke(cli, ["ingest", url])
    assert result.exit_code == 0, result.output
    assert "read 8, new 7" in result.output
    assert paper(engine, "1302.2146")["version"] == 2


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE OAI-PMH [
 <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
 <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
]>
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords><record><header>
<identifier>oai:arXiv.org:0704.0471</identifier></header><metadata>
<arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/"><id>0704.0471</id><title>&e;</title>
<abstract>&e;</abstract></arXivRaw></metadata></record></ListRecords></OAI-PMH>
"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords><record><header>
<identifier>oai:arXiv.org:0704.0471</identifier></header><metadata>
<arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/"><id>0704.0471</id><title>leak</title>
<abstract>&e;</abstract></arXivRaw></metadata></record></ListRecords></OAI-PMH>
"""


@pytest.mark.parametrize("doc", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["billion-laughs", "external-entity"])
def test_entity_declarations_are_refused_unexpanded(engine, tmp_path, data_dir, doc):
    path = tmp_path / "hostile.xml"
    path.write_bytes(doc)
    summary = ingest_sources([str(path)], engine=engine)
    assert (summary.read, summary.rejected, summary.exit_status) == (0, 1, 2)
    [logged] = rejects(data_dir)
    assert logged == {**logged, "location": "document", "reason": xmlsafe.ENTITIES_REFUSED}
    assert count(engine) == 0 and "root:" not in (data_dir / "rejects.jsonl").read_text()


def test_entities_refused_by_the_parser_too(monkeypatch):
    """The second line of defence: a prolog the byte scan misses is still refused unexpanded."""
    monkeypatch.setattr(xmlsafe, "HEAD", 8)
    [reject] = list(oai.read(io.BytesIO(EXTERNAL_ENTITY), "t"))
    assert (reject.location, reject.reason) == ("document", xmlsafe.ENTITIES_REFUSED)
    [reject] = list(oai.read(io.BytesIO(BILLION_LAUGHS), "t"))
    assert "amplification" in reject.reason  # libxml2 stops the expansion at its limit


def test_live_hostile_response_is_refused(engine, server):
    server.add("/oai", body=EXTERNAL_ENTITY)
    summary = ingest_sources([server.url("/oai?verb=ListRecords")], engine=engine)
    assert (summary.read, summary.rejected, summary.exit_status) == (0, 1, 2)
    assert oai.load_state(engine, f"oai:{server.url('/oai')}::arXivRaw") == {}


def test_truncated_response_keeps_the_records_before_the_break(engine, tmp_path, data_dir):
    def cut(raw: bytes) -> bytes:
        return raw[: raw.index(b"<id>0704.1109</id>") + 100]  # inside the fourth record

    summary = ingest_sources([edited(tmp_path, LIST, cut)], engine=engine)
    assert (summary.read, summary.rejected, summary.exit_status) == (3, 1, 1)
    [logged] = rejects(data_dir)
    assert logged["location"] == "line 88" and "broken at line 88" in logged["reason"]


def test_records_without_id_or_abstract_are_rejected_with_position(engine, tmp_path, data_dir):
    def damage(raw: bytes) -> bytes:
        raw = raw.replace(b"<id>0704.0716</id>", b"")  # record 2
        start = raw.index(b"<abstract>", raw.index(b"<id>0704.0874</id>"))  # record 3
        return raw[:start] + raw[raw.index(b"</abstract>", start) + len(b"</abstract>"):]

    summary = ingest_sources([edited(tmp_path, LIST, damage)], engine=engine)
    assert (summary.read, summary.rejected, summary.exit_status) == (4, 2, 1)
    found = {r["reason"]: r for r in rejects(data_dir)}
    assert found["missing id"]["location"] == "record 2 (line 32)"
    assert found["missing id"]["excerpt"] == "oai:arXiv.org:0704.0716"
    assert found["missing abstract"]["location"] == "record 3 (line 53)"
    assert count(engine) == 4
