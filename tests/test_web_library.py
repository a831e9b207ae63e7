"""The library on the web: the save button (htmx and plain forms) on every kind of page,
the library page (notes escaped and bounded, collections, filters), public and private
collection pages (404 for everyone but the owner), the import page and its report, and
exports only for their owner."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from paperfeed.library import collection, saved
from paperfeed.models import SavedPaper
from tests.library_support import FIXTURES
from tests.webdata import TODAY, add_paper, client, csrf, sign_in, soup


@pytest.fixture
def site(engine):
    add_paper(engine, "2610.00001", "Listed today on transformers", day=TODAY, upvotes=4, categories=["cs.CL"])
    add_paper(engine, "2610.00002", "Also today, graphs", day=TODAY, upvotes=1, categories=["math.CO"])
    add_paper(engine, "2610.00003", "Old physics", published=datetime(2020, 5, 1, tzinfo=UTC), categories=["hep-ph"])
    for n in range(1, 9):  # what the Zotero fixture names (0704.0003 is in its malformed entry)
        add_paper(engine, f"0704.000{n}", f"Fixture paper {n}", categories=["hep-ph"])
    return client(engine)


def _save(c, arxiv_id, action="save", htmx=False, next="/"):
    token = csrf(c, "/")
    data = {"arxiv_id": arxiv_id, "action": action, "next": next}
    headers = {"HX-Request": "true", "X-CSRF-Token": token} if htmx else {}
    if not htmx:
        data["csrf_token"] = token
    return c.post("/library/save", data=data, headers=headers, follow_redirects=False)


def _saved_ids(engine, user_id):
    with engine.connect() as conn:
        return set(conn.execute(select(SavedPaper.arxiv_id).where(SavedPaper.user_id == user_id)).scalars())


def _buttons(page):
    return {b.find_parent("article")["id"]: b for b in soup(page).select("article.card .save-button")}


def test_visitors_get_a_login_link_and_readers_a_button(site, engine):
    anonymous = _buttons(site.get("/"))
    assert {b.name for b in anonymous.values()} == {"a"}
    assert anonymous["paper-2610.00001"]["href"].startswith("/login?next=")
    assert "Library" not in soup(site.get("/")).select_one(".main-nav").get_text()
    sign_in(site, engine)
    mine = _buttons(site.get("/"))
    assert {b.name for b in mine.values()} == {"button"}
    assert mine["paper-2610.00001"]["aria-pressed"] == "false"
    assert soup(site.get("/")).select_one('.main-nav a[href="/library"]') is not None
    _save(site, "2610.00001")
    assert _buttons(site.get("/"))["paper-2610.00001"]["aria-pressed"] == "true"
    again = _buttons(client(engine).get("/"))  # a visitor after them: nothing of theirs, cached or not
    assert {b.name for b in again.values()} == {"a"} and "Saved" not in str(again)


def test_save_and_unsave_with_htmx_and_without_javascript(site, engine):
    uid = sign_in(site, engine)
    r = _save(site, "2610.00001", htmx=True, next="/")
    assert r.status_code == 200
    button = soup(r).select_one("form.save button")
    assert button["aria-pressed"] == "true" and "Saved" in button.get_text()
    assert soup(r).select_one('input[name="action"]')["value"] == "unsave"
    assert _saved_ids(engine, uid) == {"2610.00001"}
    with engine.connect() as conn:  # into the Reading list
        [reading] = collection.list_collections(conn, uid)
        assert reading.is_default and reading.papers == 1

    r = _save(site, "2610.00002", next="/papers?q=graphs")  # the no-JavaScript form
    assert r.status_code == 303 and r.headers["location"] == "/papers?q=graphs"
    r = _save(site, "2610.00003", next="https://evil.example/")
    assert r.headers["location"] == "/"  # only local paths
    assert _saved_ids(engine, uid) == {"2610.00001", "2610.00002", "2610.00003"}
    assert _buttons(site.get("/"))["paper-2610.00001"]["aria-pressed"] == "true"
    page = soup(site.get("/papers/2610.00003"))
    assert page.select_one(".paper-actions .save-button")["aria-pressed"] == "true"

    r = _save(site, "2610.00001", "unsave", htmx=True)
    assert soup(r).select_one("form.save button")["aria-pressed"] == "false"
    assert _saved_ids(engine, uid) == {"2610.00002", "2610.00003"}


def test_saving_needs_a_session_a_csrf_token_and_a_stored_paper(site, engine):
    r = _save(site, "2610.00001")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    sign_in(site, engine)
    r = site.post("/library/save", data={"arxiv_id": "2610.00001", "csrf_token": "forged"}, follow_redirects=False)
    assert r.status_code == 403
    assert _save(site, "9912.99999").status_code == 404
    assert _save(site, "not an id").status_code == 404
    assert _save(site, "2610.00001", action="explode").status_code == 400


def test_the_saved_state_is_one_lookup_per_page(site, engine, monkeypatch):
    from paperfeed.web import cards

    sign_in(site, engine)
    calls = []
    real = cards.saved_state
    monkeypatch.setattr(cards, "saved_state", lambda *a: calls.append(a) or real(*a))
    site.get("/")
    assert len(calls) == 1 and set(calls[0][2]) == {"2610.00001", "2610.00002"}


def _library(c, query=""):
    return c.get("/library" + query)


def _post(c, path, **data):
    data.setdefault("csrf_token", csrf(c, "/library"))
    return c.post(path, data=data, follow_redirects=False)


def test_notes_keep_line_breaks_are_escaped_and_bounded(site, engine):
    uid = sign_in(site, engine)
    _save(site, "2610.00001")
    note = "<script>alert(1)</script>\nsecond line & more"
    r = _post(site, "/library/papers/note", arxiv_id="2610.00001", note=note, next="/library")
    assert r.status_code == 303 and "done=note" in r.headers["location"]
    page = _library(site)
    shown = soup(page).select_one(".note")
    assert shown.get_text() == note  # as text, line break kept (the CSS keeps it visible)
    assert "<script>alert(1)" not in page.text and "&lt;script&gt;" in page.text

    r = _post(site, "/library/papers/note", arxiv_id="2610.00001", note="x" * 1_000_000, next="/library")
    assert r.status_code == 413
    assert "at most 10,000 characters" in soup(r).select_one(".error").get_text()
    with engine.connect() as conn:
        assert saved.get_saved(conn, uid, "2610.00001").note == note  # the old note is kept
    r = _post(site, "/library/papers/note", arxiv_id="2610.00002", note="not saved", next="/library")
    assert r.status_code == 404


def test_collections_crud_and_membership(site, engine):
    uid = sign_in(site, engine)
    _save(site, "2610.00001")
    r = _post(site, "/library/collections", name="Ideas: Mamba & co.", description="State spaces")
    assert r.status_code == 303 and r.headers["location"] == "/library?collection=ideas-mamba-co&done=created"
    with engine.connect() as conn:
        ideas = collection.get_collection(conn, uid, "ideas-mamba-co")
    assert not ideas.is_public  # private by default
    assert _post(site, "/library/collections", name="ideas: mamba & CO.").status_code == 400  # same name

    r = _post(site, "/library/papers/collections", arxiv_id="2610.00001", collection=str(ideas.id), action="add")
    assert r.status_code == 303
    _post(site, "/library/papers/collections", arxiv_id="2610.00002", collection=str(ideas.id), action="add")
    page = soup(_library(site, "?collection=ideas-mamba-co"))
    assert page.select_one("h1").get_text() == "Ideas: Mamba & co."
    assert {a["id"] for a in page.select("article.saved-item")} == {"saved-2610.00001", "saved-2610.00002"}

    _post(site, "/library/papers/collections", arxiv_id="2610.00002", collection=str(ideas.id), action="remove")
    page = soup(_library(site, "?collection=ideas-mamba-co"))
    assert [a["id"] for a in page.select("article.saved-item")] == ["saved-2610.00001"]
    assert "2610.00002" in _saved_ids(engine, uid)  # still saved

    r = _post(site, f"/library/collections/{ideas.id}", name="Renamed", description="New words", next="/library?collection=ideas-mamba-co")
    assert r.status_code == 303
    with engine.connect() as conn:
        again = collection.get_collection(conn, uid, ideas.id)
    assert (again.name, again.description, again.slug) == ("Renamed", "New words", "ideas-mamba-co")

    with engine.connect() as conn:
        reading = collection.default_collection(conn, uid)
    r = _post(site, f"/library/collections/{reading.id}/delete")
    assert r.status_code == 400 and "cannot be deleted" in r.text
    assert _post(site, f"/library/collections/{ideas.id}/delete").status_code == 303
    assert _library(site, "?collection=ideas-mamba-co").status_code == 404
    assert "2610.00001" in _saved_ids(engine, uid)


def test_filters_sorts_and_paging(site, engine):
    sign_in(site, engine)
    for arxiv_id in ("2610.00003", "2610.00001", "2610.00002"):
        _save(site, arxiv_id)

    def listed(query):
        return [a["id"].removeprefix("saved-") for a in soup(_library(site, query)).select("article.saved-item")]

    assert listed("") == ["2610.00002", "2610.00001", "2610.00003"]  # newest saved first
    assert listed("?sort=title") == ["2610.00002", "2610.00001", "2610.00003"]
    assert listed("?sort=published")[-1] == "2610.00003"
    assert listed("?category=cs.CL") == ["2610.00001"]
    assert listed("?category=math") == ["2610.00002"]  # an archive: every math.* category
    assert listed(f"?saved_from={TODAY.replace(year=TODAY.year - 1)}&saved_to={TODAY}")
    assert listed("?saved_to=2001-01-01") == []
    assert _library(site, "?category=bad%25").status_code == 400
    assert _library(site, "?saved_from=yesterday").status_code == 400
    assert _library(site, "?sort=random").status_code == 400
    assert _library(site, "?p=100000").status_code == 400
    assert _library(site, "?p=2").status_code == 404


def test_library_pages_need_sign_in(site, engine):
    r = site.get("/library", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/library"
    r = site.post("/library/collections", data={"name": "x", "csrf_token": csrf(site, "/")}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_private_collections_are_404_for_everyone_but_their_owner(site, engine):
    from tests.webdata import client as new_client

    uid = sign_in(site, engine, "owner")
    _save(site, "2610.00001")
    _post(site, "/library/collections", name="Reading group")
    with engine.connect() as conn:
        group = collection.get_collection(conn, uid, "reading-group")
    _post(site, "/library/papers/collections", arxiv_id="2610.00001", collection=str(group.id), action="add")
    _post(site, "/library/papers/note", arxiv_id="2610.00001", note="my secret thought")

    url = "/u/owner/c/reading-group"
    mine = site.get(url)
    assert mine.status_code == 200 and "private" in soup(mine).select_one(".notice").get_text()

    anonymous = new_client(engine)
    other = new_client(engine)
    other_id = sign_in(other, engine, "other")
    for c in (anonymous, other):
        for path in (url, "/u/owner/c/reading-list", "/u/owner/c/nothing", "/u/nobody/c/reading-group"):
            r = c.get(path)
            assert r.status_code == 404, path
            assert "Listed today" not in r.text

    # someone else's collection ids are not found either, and nothing changes
    r = _post(other, f"/library/collections/{group.id}/visibility", public="1")
    assert r.status_code == 404
    r = _post(other, "/library/papers/collections", arxiv_id="2610.00001", collection=str(group.id), action="add")
    assert r.status_code == 404
    assert _post(other, f"/library/collections/{group.id}/delete").status_code == 404
    assert _saved_ids(engine, other_id) == set()

    r = _post(site, f"/library/collections/{group.id}/visibility", public="1", next="/library?collection=reading-group")
    assert r.status_code == 303
    assert "/u/owner/c/reading-group" in _library(site, "?collection=reading-group").text
    for c in (anonymous, other):
        r = c.get(url)
        assert r.status_code == 200
        page = soup(r)
        assert page.select_one("h1").get_text() == "Reading group"
        assert [a["id"] for a in page.select("article.card")] == ["paper-2610.00001"]
        assert "my secret thought" not in r.text
    assert anonymous.get("/u/owner/c/reading-list").status_code == 404  # the other one stays private
    _post(site, f"/library/collections/{group.id}/visibility", public="0")
    assert anonymous.get(url).status_code == 404


def test_import_report_for_the_zotero_fixture(site, engine):
    uid = sign_in(site, engine)
    _save(site, "0704.0001")
    with engine.begin() as conn:
        saved.set_note(conn, uid, "0704.0001", "kept")
    data = (FIXTURES / "zotero-export.bib").read_bytes()
    r = site.post(
        "/library/import",
        data={"csrf_token": csrf(site, "/library/import"), "new_collection": "Zotero"},
        files={"file": ("My Library.bib", data, "application/x-bibtex")},
    )
    assert r.status_code == 200, r.text
    page = soup(r)
    assert page.select_one("h1").get_text() == "Import report"
    missed = {row.select("td")[1].get_text(): row.get_text(" ") for row in page.select(".not-imported tbody tr")}
    assert set(missed) == {"einstein_can_1935", "@misc{pan_evolution_2007,"}
    assert "no arXiv id" in missed["einstein_can_1935"]
    assert "Malformed" in missed["@misc{pan_evolution_2007,"]
    matched = {row.select("td")[1].get_text(): row.select("td")[3].get_text() for row in page.select(".imported tbody tr")}
    assert matched == {"balazs_calculation_2007": "eprint", "streinu_sparsity-certifying_2008": "url",
                       "callan_determinant_2007": "journal", "swift_numerical_2007": "url"}
    with engine.connect() as conn:
        zotero = collection.get_collection(conn, uid, "zotero")
        assert zotero.is_public is False
        assert saved.get_saved(conn, uid, "0704.0001").note == "kept"  # nothing already saved lost
    assert _saved_ids(engine, uid) == {"0704.0001", "0704.0002", "0704.0004", "0704.0008"}


def test_bad_imports_say_why_and_change_nothing(site, engine, monkeypatch):
    uid = sign_in(site, engine)
    _save(site, "2610.00001")

    def upload(content, name="x.bib", **extra):
        return site.post("/library/import", data={"csrf_token": csrf(site, "/library/import"), **extra},
                         files={"file": (name, content, "application/octet-stream")})

    r = upload(b"\x89PNG\r\n\x1a\n\x00\x00\x00binary", "picture.png")
    assert r.status_code == 400 and "not a text file" in soup(r).select_one(".error").get_text()
    r = upload(b"Dear diary, nothing here at all.", "diary.txt", new_collection="Diary")
    assert r.status_code == 400 and "is this a BibTeX file" in r.text
    from paperfeed.library import importer

    with monkeypatch.context() as patch:
        patch.setattr(importer, "MAX_BYTES", 1000)
        r = upload(b"@misc{a, title={x}}\n" * 100)
        assert r.status_code == 413 and "at most" in soup(r).select_one(".error").get_text()

    r = site.post("/library/import", data={"csrf_token": csrf(site, "/library/import")})
    assert r.status_code == 400 and "Choose a file" in r.text
    r = site.post("/library/import", data={"csrf_token": "forged", "ids": "2610.00002"})
    assert r.status_code == 403
    assert _saved_ids(engine, uid) == {"2610.00001"}

    with engine.connect() as conn:  # the failed imports' new collection was never made
        assert [c.name for c in collection.list_collections(conn, uid)] == ["Reading list"]
    r = upload((FIXTURES / "duplicates.bib").read_bytes())
    assert r.status_code == 200 and "Duplicate" in r.text


def test_pasting_ids_is_bounded(site, engine):
    uid = sign_in(site, engine)
    ids = "2610.00002 https://arxiv.org/abs/2610.00003v2\n" + "\n".join(f"2611.{n:05d}" for n in range(10_000))
    r = site.post("/library/import", data={"csrf_token": csrf(site, "/library/import"), "ids": ids})
    assert r.status_code == 200
    text = soup(r).get_text(" ")
    assert "more ids were not read: at most 1,000 per paste" in text
    assert "fetches at most 20 papers from arXiv" in text
    assert {"2610.00002", "2610.00003"} <= _saved_ids(engine, uid)


def test_exports_only_for_their_owner(site, engine):
    from tests.webdata import client as new_client

    uid = sign_in(site, engine, "owner")
    _save(site, "2610.00001")
    _post(site, "/library/collections", name="Ideas")
    with engine.connect() as conn:
        ideas = collection.get_collection(conn, uid, "ideas")
    _post(site, "/library/papers/collections", arxiv_id="2610.00002", collection=str(ideas.id), action="add")
    page = soup(_library(site, "?collection=ideas"))
    links = {a.get_text(): a["href"] for a in page.select_one(".downloads").select("a[download]")}
    assert links["BibTeX"] == "/library/export.bib?collection=ideas"

    r = site.get("/library/export.bib")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-bibtex")
    assert "attachment" in r.headers["content-disposition"] and "2610.00001" in r.text and "2610.00002" in r.text
    r = site.get("/library/export.json?collection=ideas")
    doc = json.loads(r.text)
    assert [p["arxiv_id"] for p in doc["papers"]] == ["2610.00002"]
    assert "2610.00001" in site.get("/library/export.csv").text
    assert site.get("/library/export.xml").status_code == 404
    assert site.get("/library/export.bib?collection=nothing").status_code == 404

    other = new_client(engine)
    sign_in(other, engine, "other")
    assert other.get("/library/export.bib?collection=ideas").status_code == 404
    assert "2610.00001" not in other.get("/library/export.bib").text  # their own, empty library
    assert new_client(engine).get("/library/export.bib").status_code == 404
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(SavedPaper)).scalar_one() == 2
