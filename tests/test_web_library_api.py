"""
The library's JSON API (issue #13) and the tokens that reach it: saved papers,
collections and follows with a live token; 401 with `WWW-Authenticate` for no
token, a revoked one, an expired one and a disabled account's; another reader's
collection is 404; the session cookie opens nothing; public endpoints ignore a
Hugging Face token; the settings page creates (shown once, stored hashed),
lists and revokes tokens.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from paperfeed.library import tokens
from paperfeed.models import AccessToken, User
from tests.webdata import TODAY, add_paper, client, csrf, sign_in, soup


@pytest.fixture
def site(engine):
    add_paper(engine, "2401.00001", "State spaces", authors=["Albert Gu", "Tri Dao"], day=TODAY,
              categories=["cs.LG", "cs.CL"])
    add_paper(engine, "2401.00002", "Attention again", authors=["Ada Lovelace"], categories=["cs.CL"])
    add_paper(engine, "hep-th/9901001", "Strings", authors=["Ed Witten"], categories=["hep-th"])
    return client(engine)


def api_token(engine, user_id: int, **options) -> str:
    with engine.begin() as conn:
        return tokens.create_token(conn, user_id, "api", name="test", **options).token


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_saved_papers_collections_and_follows_with_a_token(engine, site):
    uid = sign_in(site, engine, "ada")
    h = auth(api_token(engine, uid))
    r = site.post("/api/library/papers", json={"arxiv_id": "2401.00001", "note": "read §3\nthen §4"}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["note"] == "read §3\nthen §4" and r.json()["title"] == "State spaces"
    assert site.post("/api/library/papers", json={"arxiv_id": "hep-th/9901001"}, headers=h).status_code == 200
    listed = site.get("/api/library/papers", headers=h).json()
    assert listed["total"] == 2 and {p["arxiv_id"] for p in listed["items"]} == {"2401.00001", "hep-th/9901001"}
    assert site.get("/api/library/papers/hep-th/9901001", headers=h).json()["arxiv_id"] == "hep-th/9901001"

    made = site.post("/api/library/collections", json={"name": "Mamba", "description": "SSMs"}, headers=h)
    assert made.status_code == 201, made.text
    cid = made.json()["id"]
    assert site.put(f"/api/library/collections/{cid}/papers/2401.00002", headers=h).status_code == 200
    one = site.get(f"/api/library/collections/{cid}", headers=h).json()
    assert one["collection"]["name"] == "Mamba" and one["collection"]["papers"] == 1
    assert [p["arxiv_id"] for p in one["papers"]["items"]] == ["2401.00002"]
    names = [c["name"] for c in site.get("/api/library/collections", headers=h).json()]
    assert names == ["Reading list", "Mamba"]
    assert site.delete(f"/api/library/collections/{cid}/papers/2401.00002", headers=h).status_code == 204
    assert site.get(f"/api/library/papers?collection={cid}", headers=h).json()["total"] == 0
    assert site.get("/api/library/papers?category=cs", headers=h).json()["total"] == 2  # still saved

    assert site.delete("/api/library/papers/hep-th/9901001", headers=h).status_code == 204
    assert site.delete("/api/library/papers/hep-th/9901001", headers=h).status_code == 404
    assert site.get("/api/library/papers/hep-th/9901001", headers=h).status_code == 404

    f = site.post("/api/library/follows", json={"kind": "author", "value": "Albert Gu"}, headers=h)
    assert f.status_code == 200 and f.json()["key"] == "albert gu" and f.json()["label"] == "Albert Gu"
    assert site.post("/api/library/follows", json={"kind": "category", "value": "cs.CL"}, headers=h).status_code == 200
    assert [x["key"] for x in site.get("/api/library/follows", headers=h).json()] == ["albert gu", "cs.CL"]
    assert site.delete("/api/library/follows/author/albert gu", headers=h).status_code == 204
    assert site.delete("/api/library/follows/author/albert gu", headers=h).status_code == 404
    assert [x["key"] for x in site.get("/api/library/follows", headers=h).json()] == ["cs.CL"]


def test_bad_input_is_a_clear_4xx(engine, site):
    uid = sign_in(site, engine, "ada")
    h = auth(api_token(engine, uid))
    assert site.post("/api/library/papers", json={"arxiv_id": "2499.99999"}, headers=h).status_code == 404
    assert site.post("/api/library/papers", json={"arxiv_id": "not an id"}, headers=h).status_code == 404
    r = site.post("/api/library/papers", json={"arxiv_id": "2401.00001", "note": "x" * 20_000}, headers=h)
    assert r.status_code == 400 and "error" in r.json()
    r = site.post("/api/library/papers", content=b"{not json", headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 400 and "error" in r.json()
    assert site.post("/api/library/follows", json={"kind": "category", "value": "Not A Cat!"}, headers=h).status_code == 400
    assert site.post("/api/library/collections", json={"name": "   "}, headers=h).status_code == 400
    site.post("/api/library/collections", json={"name": "Twice"}, headers=h)
    r = site.post("/api/library/collections", json={"name": "twice"}, headers=h)
    assert r.status_code == 409 and "already" in r.json()["error"]  # a name taken: a conflict, not a bad body
    assert site.post("/api/library/collections", json={"name": "Zero", "public": 0}, headers=h).status_code == 400
    # schema-valid, but nothing one follows: 404, as any follow you do not have
    assert site.delete("/api/library/follows/category/0", headers=h).status_code == 404
    assert site.post("/api/library/follows", json={"kind": "author", "value": "!"}, headers=h).status_code == 404
    assert site.get("/api/library/collections/99999999999", headers=h).status_code == 400
    assert site.get("/api/library/papers?sort=random", headers=h).status_code == 400


def test_no_revoked_or_expired_token_is_401_with_a_challenge(engine, site):
    uid = sign_in(site, engine, "ada")
    r = site.get("/api/library/papers")  # signed in with a cookie: not enough for the API
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    assert r.json() == {"error": "a valid access token is required"}

    token = api_token(engine, uid)
    assert site.get("/api/library/papers", headers=auth(token)).status_code == 200
    with engine.begin() as conn:
        tid = conn.execute(select(AccessToken.__table__.c.id).where(
            AccessToken.__table__.c.token_hash == tokens.digest(token))).scalar_one()
        tokens.revoke(conn, uid, tid)
    r = site.get("/api/library/papers", headers=auth(token))
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["WWW-Authenticate"]

    expiring = api_token(engine, uid, expires_in=timedelta(days=1))
    assert site.get("/api/library/follows", headers=auth(expiring)).status_code == 200
    with engine.begin() as conn:
        conn.execute(update(AccessToken.__table__).where(AccessToken.__table__.c.token_hash == tokens.digest(expiring))
                     .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert site.get("/api/library/follows", headers=auth(expiring)).status_code == 401

    for bad in ("Bearer hf_abcdefghijklmnop", "Bearer pf_" + "x" * 43, "Basic YWRhOnB3", "Bearer"):
        r = site.get("/api/library/collections", headers={"Authorization": bad})
        assert r.status_code == 401 and "WWW-Authenticate" in r.headers, bad

    live = api_token(engine, uid)
    with engine.begin() as conn:
        conn.execute(update(User.__table__).where(User.__table__.c.id == uid).values(disabled_at=datetime.now(UTC)))
    assert site.get("/api/library/papers", headers=auth(live)).status_code == 401


def test_a_feed_token_does_not_open_the_api(engine, site):
    uid = sign_in(site, engine, "ada")
    with engine.begin() as conn:
        from paperfeed.library.collection import default_collection

        feed = tokens.feed_token(conn, uid, default_collection(conn, uid).id).token
    assert site.get("/api/library/papers", headers=auth(feed)).status_code == 401


def test_another_readers_collection_is_404(engine, site):
    first = sign_in(site, engine, "ada")
    h1 = auth(api_token(engine, first))
    cid = site.post("/api/library/collections", json={"name": "Secret"}, headers=h1).json()["id"]
    site.put(f"/api/library/collections/{cid}/papers/2401.00001", headers=h1)
    other = client(engine)
    second = sign_in(other, engine, "bob")
    h2 = auth(api_token(engine, second))
    for method, path in (("GET", f"/api/library/collections/{cid}"),
                         ("PUT", f"/api/library/collections/{cid}/papers/2401.00002"),
                         ("DELETE", f"/api/library/collections/{cid}/papers/2401.00001"),
                         ("GET", f"/api/library/papers?collection={cid}")):
        r = other.request(method, path, headers=h2)
        assert r.status_code == 404, (method, path, r.status_code)
        assert "Secret" not in r.text and "2401.00001" not in r.text
    assert other.get("/api/library/papers", headers=h2).json()["total"] == 0
    assert site.get(f"/api/library/collections/{cid}", headers=h1).json()["papers"]["total"] == 1


def test_public_endpoints_ignore_a_hugging_face_token(engine, site):
    hf = {"Authorization": "Bearer hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}
    anon = client(engine)
    assert anon.get("/api/daily_papers", headers=hf).status_code == 200
    assert anon.get("/api/papers/2401.00001", headers=hf).json()["id"] == "2401.00001"
    assert anon.get("/api/papers/search?q=spaces", headers=hf).status_code == 200
    assert anon.get("/feeds/daily.atom", headers=hf).status_code == 200
    assert anon.get("/papers/2401.00001", headers=hf).status_code == 200
    revoked = {"Authorization": "Bearer pf_" + "y" * 43}  # ours in shape, unknown: ignored as well
    assert anon.get("/api/daily_papers", headers=revoked).status_code == 200


def test_the_schema_documents_the_token_and_every_status(engine, site):
    schema = site.get("/api/openapi.json").json()
    assert schema["components"]["securitySchemes"]["AccessToken"] == {
        "type": "http", "scheme": "bearer", "description": "A personal access token (`pf_…`) made on `/settings/tokens`."}
    operations = [(p, m, op) for p, ms in schema["paths"].items() if p.startswith("/api/library") for m, op in ms.items()]
    assert len(operations) == 12
    for path, method, op in operations:
        assert op["security"] == [{"AccessToken": []}], (path, method)
        assert {"400", "401"} <= set(op["responses"]), (path, method)
        assert "422" not in op["responses"], (path, method)
        assert "WWW-Authenticate" in op["responses"]["401"]["headers"]
    assert "security" not in schema["paths"]["/api/daily_papers"]["get"]


def test_tokens_page_shows_a_token_once_and_stores_its_hash(engine, site):
    assert site.get("/settings/tokens", follow_redirects=False).status_code == 303  # a visitor logs in
    uid = sign_in(site, engine, "ada")
    page = site.post("/settings/tokens", data={"name": "sync script", "expires_days": "30",
                                               "csrf_token": csrf(site, "/settings/tokens")})
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    token = soup(page).find(id="new-token").get_text()
    assert token.startswith("pf_")
    with engine.connect() as conn:
        row = conn.execute(select(AccessToken.__table__).where(AccessToken.__table__.c.user_id == uid)).one()
    assert row.token_hash == tokens.digest(token) and token not in repr(tuple(row))
    assert row.expires_at is not None and row.name == "sync script"
    assert site.get("/api/library/papers", headers=auth(token)).status_code == 200
    again = site.get("/settings/tokens")
    assert token not in again.text and row.prefix in again.text and "sync script" in again.text

    assert site.post("/settings/tokens", data={"expires_days": "-3", "csrf_token": csrf(site, "/settings/tokens")}).status_code == 400
    assert site.post("/settings/tokens", data={"name": "no csrf"}).status_code == 403

    form = soup(again).find("form", action=f"/settings/tokens/{row.id}/revoke")
    r = site.post(form["action"], data={"csrf_token": form.find("input", {"name": "csrf_token"})["value"]},
                  follow_redirects=False)
    assert r.status_code == 303
    assert site.get("/api/library/papers", headers=auth(token)).status_code == 401
    assert "revoked" in site.get("/settings/tokens").text
    other = client(engine)
    sign_in(other, engine, "bob")
    r = other.post(f"/settings/tokens/{row.id}/revoke", data={"csrf_token": csrf(other, "/settings/tokens")})
    assert r.status_code == 404


def test_settings_link_in_the_header(engine, site):
    assert "/settings/tokens" not in site.get("/").text
    sign_in(site, engine, "ada")
    assert soup(site.get("/")).find("a", href="/settings/tokens", string="Settings")


def test_405_names_every_method_of_the_path(engine, site):
    # one path, several routes: Starlette alone would name only the first route's method
    r = site.request("PATCH", "/api/library/collections")
    assert r.status_code == 405 and r.headers["Allow"] == "GET, POST"
    assert site.options("/api/library/papers/2401.00001").headers["Allow"] == "GET, DELETE"
