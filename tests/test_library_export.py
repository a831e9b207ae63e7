"""Exports: BibTeX re-imports to the same library, CSV too, JSON round-trips exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import bibtexparser
import orjson
import pytest
from sqlalchemy import update

from paperfeed.ingest.records import PaperRecord
from paperfeed.ingest.upsert import write_batch
from paperfeed.library import collection, saved
from paperfeed.library.exporter import export_library
from paperfeed.library.importer import import_text
from paperfeed.models import CollectionPaper, SavedPaper
from tests.library_support import add_user, load_corpus
from tests.test_library_import import _library

T = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)


@pytest.fixture
def ada(engine):
    """A library: the Reading list, a public collection with a description, a name with a comma,
    a paper in two collections, one in none, notes with line breaks and braces."""
    load_corpus(engine)
    write_batch(engine, [PaperRecord(arxiv_id="cs/0503050", source="test", title="An old-style id",
                                     authors=["Hanna Makaruk"], abstract="Old.", primary_category="cs.SE")])
    ada = add_user(engine, "ada")
    with engine.begin() as conn:
        ideas = collection.create_collection(conn, ada, "Ideas, later", "to read\nsoon", public=True)
        thesis = collection.create_collection(conn, ada, "Thesis")
        saved.save(conn, ada, "0704.0001", note="line one\nline {two}\n\nafter a blank line")
        saved.save(conn, ada, "0704.0002", [ideas.id, thesis.id], note="unbalanced { brace")
        saved.save(conn, ada, "0704.0003", [thesis.id])
        saved.save(conn, ada, "cs/0503050", ["Reading list"])
        saved.save(conn, ada, "0704.0004")
        saved.remove_from_collection(conn, ada, "0704.0004", "Reading list")  # saved, in no collection
        for n, arxiv_id in enumerate(["0704.0001", "0704.0002", "0704.0003", "cs/0503050", "0704.0004"]):
            conn.execute(update(SavedPaper).where(SavedPaper.arxiv_id == arxiv_id).values(saved_at=T + timedelta(days=n)))
            conn.execute(update(CollectionPaper).where(CollectionPaper.arxiv_id == arxiv_id).values(added_at=T + timedelta(hours=n)))
    return ada


def test_bibtex_has_arxiv_fields_keywords_and_notes(engine, ada):
    with engine.connect() as conn:
        text = export_library(conn, ada, "bibtex")
    entries = {e.key: {f.key: f.value for f in e.fields} for e in bibtexparser.parse_string(text).entries}
    assert set(entries) == {"0704.0001", "0704.0002", "0704.0003", "cs/0503050", "0704.0004"}
    e = entries["0704.0002"]
    assert (e["eprint"], e["archivePrefix"], e["primaryClass"]) == ("0704.0002", "arXiv", "math.CO")
    assert e["url"] == "https://arxiv.org/abs/0704.0002"
    assert e["keywords"] == "{Ideas, later}, Thesis" and e["annote"] == "unbalanced  brace"
    assert entries["0704.0001"]["annote"] == "line one\nline {two}\n\nafter a blank line"
    assert "keywords" not in entries["0704.0004"]


def test_exported_bibtex_reimports_to_the_same_library(engine, ada):
    with engine.connect() as conn:
        text = export_library(conn, ada, "bibtex")
    bob = add_user(engine, "bob")
    report = import_text(engine, bob, text)
    assert report.exit_status == 0, [o.line() for o in report.not_imported]
    assert _library(engine, bob) == _library(engine, ada)
    assert _library(engine, ada)["0704.0002"] == {"Ideas, later", "Thesis"}
    with engine.connect() as conn:
        assert saved.get_saved(conn, bob, "0704.0001").note == "line one\nline {two}\n\nafter a blank line"
    again = import_text(engine, bob, text)  # importing twice changes nothing
    assert again.saved == 0 and again.updated == 0 and _library(engine, bob) == _library(engine, ada)


def test_one_collection_as_bibtex_and_csv(engine, ada):
    with engine.connect() as conn:
        bib = export_library(conn, ada, "bibtex", collection="Thesis")
        csv_text = export_library(conn, ada, "csv", collection="thesis")
    assert {e.key for e in bibtexparser.parse_string(bib).entries} == {"0704.0002", "0704.0003"}
    lines = csv_text.splitlines()
    assert lines[0] == "arxiv_id,title,collection,note,saved_at" and len(lines) == 3


def test_csv_round_trip(engine, ada):
    with engine.connect() as conn:
        text = export_library(conn, ada, "csv")
    assert text.count("0704.0002,") == 2  # one row per collection holding it
    bob = add_user(engine, "bob")
    report = import_text(engine, bob, text)
    assert report.exit_status == 0
    mine = _library(engine, ada)
    mine["0704.0004"] = {"Reading list"}  # in no collection: a CSV row without one imports to the default
    assert _library(engine, bob) == mine
    with engine.connect() as conn:
        assert saved.get_saved(conn, bob, "0704.0003").saved_at == T + timedelta(days=2)


def _comparable(text: str) -> dict:
    doc = orjson.loads(text)
    doc.pop("exported_at")
    doc.pop("user")
    return doc


def test_json_round_trips_exactly(engine, ada):
    with engine.connect() as conn:
        text = export_library(conn, ada, "json")
    doc = orjson.loads(text)
    assert doc["format"] == "paperfeed-library" and len(doc["collections"]) == 3 and len(doc["papers"]) == 5
    ideas = next(c for c in doc["collections"] if c["slug"] == "ideas-later")
    assert ideas["is_public"] and ideas["description"] == "to read\nsoon"
    bob = add_user(engine, "bob")
    report = import_text(engine, bob, text)
    assert report.exit_status == 0
    with engine.connect() as conn:
        assert _comparable(export_library(conn, bob, "json")) == _comparable(text)
    assert import_text(engine, bob, text).saved == 0  # again: nothing new, nothing changed
    with engine.connect() as conn:
        assert _comparable(export_library(conn, bob, "json")) == _comparable(text)


def test_export_of_an_unknown_collection_is_not_found(engine, ada):
    from paperfeed.library.errors import NotFound

    with engine.connect() as conn, pytest.raises(NotFound):
        export_library(conn, ada, "bibtex", collection="nope")
