"""Importing BibTeX (real Zotero-style exports), pasted ids, CSV and JSON; every matching
rule, the arXiv fetch (against a replay server), bad input, and nothing already saved lost."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from paperfeed.library import collection, fetch, importer, saved
from paperfeed.library.entries import DUPLICATE, FETCHED, MALFORMED, MATCHED, NOT_FETCHED, UNMATCHED
from paperfeed.library.importer import import_file, import_text
from paperfeed.models import Paper, SavedPaper
from tests.library_support import FIXTURES, add_user, load_corpus
from tests.replay import ReplayServer

PAIR = "arxiv-api/id_0808.05394_1707.08567_s0_m100_42e5aa0ec3af.xml"  # has 1707.08567 only
OLD_STYLE = "arxiv-api/id_astro-ph_0601001_s0_m100_3150dca9dc76.xml"
EMPTY = "arxiv-api/id_0000.0000_s0_m100_8b51d9633a68.xml"


@pytest.fixture
def ada(engine):
    load_corpus(engine)
    return add_user(engine, "ada")


def _library(engine, user_id) -> dict[str, set[str]]:
    """arxiv_id -> names of the collections holding it, for every saved paper."""
    with engine.connect() as conn:
        names = {c.id: c.name for c in collection.list_collections(conn, user_id)}
        ids = conn.execute(select(SavedPaper.arxiv_id).where(SavedPaper.user_id == user_id)).scalars().all()
        return {a: {names[c] for c in saved.get_saved(conn, user_id, a).collections} for a in ids}


def test_zotero_export(engine, ada):
    report = import_file(engine, ada, FIXTURES / "zotero-export.bib")
    got = {o.key: (o.status, o.arxiv_id, o.how) for o in report.outcomes}
    assert got == {
        "balazs_calculation_2007": (MATCHED, "0704.0001", "eprint"),
        "streinu_sparsity-certifying_2008": (MATCHED, "0704.0002", "url"),  # v2 in the URL: version dropped
        "callan_determinant_2007": (MATCHED, "0704.0004", "journal"),
        "einstein_can_1935": (UNMATCHED, None, ""),  # DOI only, and not a stored title
        "@misc{pan_evolution_2007,": (MALFORMED, None, ""),
        "swift_numerical_2007": (MATCHED, "0704.0008", "url"),
    }
    why = {o.key: o.reason for o in report.not_imported}
    assert "no arXiv id" in why["einstein_can_1935"] and "title" in why["einstein_can_1935"]
    malformed = next(o for o in report.outcomes if o.status == MALFORMED)
    assert malformed.location == "line 54" and "malformed entry" in malformed.reason
    assert report.exit_status == 1 and report.saved == 4
    assert "4 imported" in report.summary() and "2 not imported" in report.summary()
    # Zotero's keywords are its tags, not collections: everything is in the Reading list
    assert _library(engine, ada) == {a: {"Reading list"} for a in ["0704.0001", "0704.0002", "0704.0004", "0704.0008"]}


def test_every_matching_rule(engine, ada):
    report = import_file(engine, ada, FIXTURES / "every-rule.bib", fetch_limit=0)
    got = {o.key: (o.status, o.arxiv_id, o.how) for o in report.outcomes}
    assert got == {
        "by_eprint": (MATCHED, "0704.0001", "eprint"),
        "by_arxivid": (MATCHED, "0704.0002", "arxivid"),
        "by_url": (MATCHED, "0704.0003", "url"),
        "by_note": (MATCHED, "0704.0004", "note"),
        "by_number": (MATCHED, "0704.0005", "number"),
        "by_journal": (MATCHED, "0704.0006", "journal"),
        "by_doi": (MATCHED, "0704.0007", "doi"),
        "by_title": (MATCHED, "0704.0008", "title"),
        "old_style": (NOT_FETCHED, "hep-ph/0301050", "eprint"),  # not in the Kaggle sample; fetching is off
        "other_archive": (UNMATCHED, None, ""),  # an SSRN eprint is not an arXiv id
    }
    assert "fetches at most 0 papers" in next(o for o in report.outcomes if o.key == "old_style").reason


def test_an_ambiguous_title_is_not_guessed(engine, ada):
    from paperfeed.ingest.records import PaperRecord
    from paperfeed.ingest.upsert import write_batch

    write_batch(engine, [PaperRecord(arxiv_id=f"2501.0000{n}", source="test", title="Introduction",
                                     abstract="Same title.") for n in (1, 2)])
    report = import_text(engine, ada, "@misc{x, title = {{Introduction}}}")
    assert report.outcomes[0].status == UNMATCHED and "matches 2 stored papers" in report.outcomes[0].reason
    assert report.exit_status == 2


def test_duplicates_are_reported_and_never_abort(engine, ada):
    report = import_file(engine, ada, FIXTURES / "duplicates.bib")
    got = [(o.key, o.status, o.arxiv_id) for o in report.outcomes]
    assert got == [
        ("first", MATCHED, "0704.0002"),
        ("first", DUPLICATE, None),
        ("same_paper_again", MATCHED, "0704.0002"),
        ("twice_a_field", MALFORMED, None),
    ]
    assert "the same paper as entry first" in report.outcomes[2].reason
    assert report.saved == 1 and report.exit_status == 1


@pytest.mark.parametrize("data", [
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\x00<< /Type /Catalog >>",
    b"Dear reader, this is a letter and not a bibliography.",
    b"",
    b'{"some": "json"}',
    b"arxiv_id,title\n",
])
def test_a_file_that_is_not_an_import_says_so(engine, ada, data):
    report = import_text(engine, ada, data)
    assert report.exit_status == 2 and report.error
    assert _library(engine, ada) == {}


def test_a_file_over_the_limit_is_refused_before_it_is_read(engine, ada, tmp_path):
    big = tmp_path / "huge.bib"
    with big.open("wb") as f:
        f.truncate(26 * 1024 * 1024)  # sparse: 26 MB that cost nothing to make
    started = time.perf_counter()
    report = import_file(engine, ada, big)
    assert time.perf_counter() - started < 1
    assert report.exit_status == 2 and "26.0 MB" in report.error and "at most 25.0 MB" in report.error
    report = import_text(engine, ada, b"@misc{a, eprint={0704.0001}}" + b" " * 2000, max_bytes=1000)
    assert report.exit_status == 2 and "at most" in report.error
    assert import_file(engine, ada, tmp_path / "missing.bib").error.startswith("cannot read")


def test_ten_thousand_pasted_ids_are_bounded(engine, ada):
    pasted = "\n".join(f"https://arxiv.org/abs/0704.{n:04d}v1" for n in range(1, 10_001))
    started = time.perf_counter()
    report = import_text(engine, ada, pasted, max_ids=1_000, fetch_limit=0)
    assert time.perf_counter() - started < 30
    assert report.format == "ids" and len(report.outcomes) == 1_000
    assert len(report.imported) == 200  # the sample holds 0704.0001-0704.0200
    assert {o.status for o in report.not_imported} == {NOT_FETCHED}
    assert "9,000 more ids were not read: at most 1,000 per paste" in report.summary()
    assert report.exit_status == 1


def test_pasted_ids_in_every_form(engine, ada):
    report = import_text(engine, ada, "0704.0001v3, arXiv:0704.0002; https://huggingface.co/papers/0704.0003 junk")
    assert [(o.status, o.arxiv_id) for o in report.outcomes] == [
        (MATCHED, "0704.0001"), (MATCHED, "0704.0002"), (MATCHED, "0704.0003"), (MALFORMED, None)]


@pytest.fixture
def arxiv(monkeypatch, waits):
    with ReplayServer() as server:
        monkeypatch.setenv("PAPERFEED_ARXIV_API_URL", server.url("/api/query"))
        yield server


def test_unknown_ids_are_fetched_from_arxiv(engine, ada, arxiv, monkeypatch):
    monkeypatch.setattr(fetch, "BATCH", 1)  # the recordings are one query per id
    arxiv.add("/api/query", PAIR, query={"id_list": "1707.08567"})
    arxiv.add("/api/query", EMPTY, query={"id_list": "0808.05394"})
    arxiv.add("/api/query", OLD_STYLE, query={"id_list": "astro-ph/0601001"})
    report = import_file(engine, ada, FIXTURES / "needs-fetch.bib")
    got = {o.key: (o.status, o.arxiv_id) for o in report.outcomes}
    assert got == {
        "immink_proceedings_2017": (FETCHED, "1707.08567"),
        "not_on_arxiv_2008": (UNMATCHED, "0808.05394"),
        "udalski_frequency_2006": (FETCHED, "astro-ph/0601001"),
        "stored_already": (MATCHED, "0704.0002"),
    }
    assert "arXiv has no paper 0808.05394" in next(o.reason for o in report.outcomes if o.key == "not_on_arxiv_2008")
    assert [r.query["id_list"] for r in arxiv.requests] == ["1707.08567", "0808.05394", "astro-ph/0601001"]
    with engine.connect() as conn:
        assert conn.execute(select(Paper.title).where(Paper.arxiv_id == "astro-ph/0601001")).scalar().startswith("Frequency")
    assert set(_library(engine, ada)) == {"1707.08567", "astro-ph/0601001", "0704.0002"}
    assert report.exit_status == 1 and len(report.fetched) == 2


def test_ids_are_fetched_in_batches_up_to_the_callers_bound(engine, ada, arxiv):
    arxiv.add("/api/query", PAIR, query={"id_list": "0808.05394,1707.08567"})
    report = import_text(engine, ada, "0808.05394 1707.08567 astro-ph/0601001", fetch_limit=2)
    assert [r.query["id_list"] for r in arxiv.requests] == ["0808.05394,1707.08567"]  # one call
    assert [o.status for o in report.outcomes] == [UNMATCHED, FETCHED, NOT_FETCHED]
    assert "at most 2 papers" in report.outcomes[2].reason


def test_arxiv_unreachable_is_reported_quickly(engine, ada, arxiv, waits):
    arxiv.add("/api/query", body=b"", fail_always=True)
    report = import_text(engine, ada, "1707.08567")
    assert report.outcomes[0].status == NOT_FETCHED and "could not fetch it from arXiv" in report.outcomes[0].reason
    assert len(arxiv.requests) == fetch.RETRIES + 1 and report.exit_status == 2


def test_nothing_already_saved_is_lost(engine, ada):
    when = datetime(2025, 5, 5, 12, 0, tzinfo=UTC)
    with engine.begin() as conn:
        saved.save(conn, ada, "0704.0001", ["Thesis"], note="my careful note")
        conn.execute(SavedPaper.__table__.update().values(saved_at=when))
    text = (
        "arxiv_id,title,collection,note,saved_at\n"
        "0704.0001,,Other,an imported note,2020-01-01T00:00:00+00:00\n"
        "0704.0002,,Other," + "x" * 20_000 + ",\n"
        "not-an-id,,,,\n"
        "0704.0003,,,,yesterday\n"
    )
    report = import_text(engine, ada, text)
    assert report.format == "csv"
    assert [o.status for o in report.outcomes] == [MATCHED, MATCHED, MALFORMED, MATCHED]
    assert "yours was kept" in report.outcomes[0].reason and "note is over 10,000" in report.outcomes[1].reason
    assert "not an ISO date" in report.outcomes[3].reason
    with engine.connect() as conn:
        kept = saved.get_saved(conn, ada, "0704.0001")
    assert kept.note == "my careful note" and kept.saved_at == when
    assert _library(engine, ada) == {"0704.0001": {"Thesis", "Other"}, "0704.0002": {"Other"},
                                     "0704.0003": {"Reading list"}}
    assert report.saved == 2 and report.updated == 1


def test_the_collection_option_and_a_large_file_in_one_transaction(engine, ada):
    entries = "\n".join(f"@misc{{e{n}, eprint = {{0704.{n:04d}}}, archivePrefix = {{arXiv}}}}" for n in range(1, 201))
    report = import_text(engine, ada, entries, collection="Imported from Zotero")
    assert report.exit_status == 0 and report.saved == 200
    assert set().union(*_library(engine, ada).values()) == {"Imported from Zotero"}
    assert importer.detect(entries) == "bibtex"
