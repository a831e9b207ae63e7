"""Accounts: sign up, log in, log out, the session cookie, CSRF, login rate limits, `paperfeed user create`."""

from __future__ import annotations

from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from paperfeed.cli import cli
from paperfeed.models import User
from paperfeed.web import accounts
from paperfeed.web.app import create_app
from tests.webdata import client, csrf, sign_in, soup


def test_signup_logs_in_with_a_safe_cookie(engine):
    c = client(engine)
    r = c.post(
        "/signup",
        data={"username": "alice", "email": "alice@example.org", "password": "long enough", "csrf_token": csrf(c, "/signup")},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert "alice" in soup(c.get("/")).select_one(".account").get_text()
    with engine.connect() as conn:
        row = conn.execute(select(User.__table__).where(User.__table__.c.username == "alice")).one()
    assert row.role == "reader" and row.password_hash.startswith("$argon2id$")


def test_signup_refusals(engine):
    c = client(engine)
    accounts.create_user(engine, "taken", "long enough")
    token = csrf(c, "/signup")
    for data, message in [
        ({"username": "a", "password": "long enough"}, "Usernames are"),
        ({"username": "bad name!", "password": "long enough"}, "Usernames are"),
        ({"username": "short", "password": "1234"}, "at least 8"),
        ({"username": "TAKEN", "password": "long enough"}, "taken"),
        ({"username": "mail", "password": "long enough", "email": "nope"}, "email"),
    ]:
        r = c.post("/signup", data={**data, "csrf_token": token})
        assert r.status_code == 400
        assert message in soup(r).select_one(".error").get_text()


def test_signup_can_be_closed(engine, monkeypatch):
    monkeypatch.setenv("PAPERFEED_ALLOW_SIGNUP", "false")
    c = client(engine)
    assert c.get("/signup").status_code == 403
    r = c.post("/signup", data={"username": "x1", "password": "long enough", "csrf_token": csrf(c)})
    assert r.status_code == 403


def test_login_logout(engine):
    c = client(engine)
    accounts.create_user(engine, "bob", "correct horse")
    r = c.post("/login", data={"username": "bob", "password": "wrong", "csrf_token": csrf(c)})
    assert r.status_code == 400 and "Wrong username or password" in r.text
    r = c.post("/login", data={"username": "nobody", "password": "wrong", "csrf_token": csrf(c)})
    assert r.status_code == 400 and "Wrong username or password" in r.text
    r = c.post(
        "/login",
        data={"username": "Bob", "password": "correct horse", "csrf_token": csrf(c), "next": "/trending"},
        follow_redirects=False,
    )
    assert (r.status_code, r.headers["location"]) == (303, "/trending")
    assert "bob" in soup(c.get("/")).select_one(".account").get_text()
    r = c.post("/logout", data={"csrf_token": csrf(c, "/")}, follow_redirects=False)
    assert r.status_code == 303
    assert "Log in" in soup(c.get("/")).select_one(".account").get_text()


def test_next_must_stay_on_this_site(engine):
    c = client(engine)
    accounts.create_user(engine, "bob", "correct horse")
    for target in ("//evil.example/x", "https://evil.example/", "\\\\evil", "javascript:alert(1)"):
        r = c.post(
            "/login",
            data={"username": "bob", "password": "correct horse", "csrf_token": csrf(c), "next": target},
            follow_redirects=False,
        )
        assert r.headers["location"] == "/"


def test_csrf_is_required(engine):
    c = client(engine)
    accounts.create_user(engine, "bob", "correct horse")
    assert c.post("/login", data={"username": "bob", "password": "correct horse"}).status_code == 403
    other = client(engine)
    stolen = csrf(other)  # a token from another visitor's session
    r = c.post("/login", data={"username": "bob", "password": "correct horse", "csrf_token": stolen})
    assert r.status_code == 403
    assert "expired" in soup(r).select_one(".error-page").get_text()


def test_tampered_session_cookie_is_ignored(engine):
    c = client(engine)
    sign_in(c, engine, "bob")
    value = c.cookies.get(accounts.COOKIE)
    c.cookies.clear()
    c.cookies.set(accounts.COOKIE, value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB"))
    assert "Log in" in soup(c.get("/")).select_one(".account").get_text()


def test_session_rotates_csrf_token_on_login(engine):
    c = client(engine)
    before = csrf(c)
    sign_in(c, engine, "bob")
    assert csrf(c, "/") != before


def test_login_rate_limit(engine, monkeypatch):
    monkeypatch.setenv("PAPERFEED_RATE_LIMIT_LOGIN", "3/86400")
    c = client(engine)
    accounts.create_user(engine, "bob", "correct horse")
    token = csrf(c)
    codes = [c.post("/login", data={"username": "bob", "password": f"guess{i}", "csrf_token": token}).status_code for i in range(4)]
    assert codes == [400, 400, 400, 429]
    r = c.post("/login", data={"username": "bob", "password": "correct horse", "csrf_token": token})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert "Slow down" in r.text


def at(engine, address: str) -> TestClient:
    """A browser at `address` (every client shares the database's counters)."""
    return TestClient(create_app(engine), raise_server_exceptions=False, client=(address, 50000))


def log_in(c, username, password="correct horse"):
    data = {"username": username, "password": password, "csrf_token": csrf(c)}
    return c.post("/login", data=data, follow_redirects=False).status_code


# Login limits must not lock out the innocent (issue 12, item 6).


def test_successful_logins_are_not_counted(engine, monkeypatch):
    monkeypatch.setenv("PAPERFEED_RATE_LIMIT_LOGIN", "3/86400")
    accounts.create_user(engine, "bob", "correct horse")
    c = at(engine, "192.0.2.7")
    assert [log_in(c, "bob") for _ in range(5)] == [303] * 5
    assert [log_in(c, "bob", "wrong") for _ in range(4)] == [400, 400, 400, 429]


def test_guessing_at_an_account_does_not_lock_its_owner_out(engine, monkeypatch):
    monkeypatch.setenv("PAPERFEED_RATE_LIMIT_LOGIN", "3/86400")
    accounts.create_user(engine, "bob", "correct horse")
    guesses = [log_in(at(engine, f"198.51.100.{i}"), "bob", f"guess{i}") for i in range(1, 6)]
    assert guesses == [400] * 5  # spread over addresses: the account is now over its limit
    newcomer = at(engine, "198.51.100.50")
    assert [log_in(newcomer, "bob", "guess") for _ in range(2)] == [400, 429]  # one wrong guess each
    assert log_in(at(engine, "203.0.113.9"), "bob") == 303  # the owner, from their own address


def test_login_and_signup_have_their_own_buckets(engine, monkeypatch):
    monkeypatch.setenv("PAPERFEED_RATE_LIMIT_LOGIN", "2/86400")
    monkeypatch.setenv("PAPERFEED_RATE_LIMIT_SIGNUP", "3/86400")

    def sign_up(name):
        c = at(engine, "192.0.2.1")
        data = {"username": name, "password": "long enough", "csrf_token": csrf(c, "/signup")}
        return c.post("/signup", data=data, follow_redirects=False).status_code

    assert [sign_up(f"student{i}") for i in range(4)] == [303, 303, 303, 429]
    c = at(engine, "192.0.2.1")  # the same campus address can still log in
    assert log_in(c, "student0", "long enough") == 303


def test_ipv6_clients_are_counted_by_their_64(engine, monkeypatch):
    monkeypatch.setenv("PAPERFEED_RATE_LIMIT_LOGIN", "2/86400")
    rotating = [log_in(at(engine, f"2001:db8:1:2::{i}"), f"name{i}", "wrong") for i in range(1, 4)]
    assert rotating == [400, 400, 429]
    assert log_in(at(engine, "2001:db8:1:3::1"), "other", "wrong") == 400  # a neighbouring /64


def test_user_create_command(engine):
    runner = CliRunner()
    first = runner.invoke(cli, ["user", "create", "root"], input="long enough\n")
    assert first.exit_code == 0, first.output
    assert "created admin root" in first.output  # the first account is an administrator
    second = runner.invoke(cli, ["user", "create", "reader1", "--password-stdin"], input="long enough\n")
    assert "created reader reader1" in second.output
    curator = runner.invoke(cli, ["user", "create", "cur", "--curator", "--email", "c@example.org"], input="long enough\n")
    assert "created curator cur" in curator.output
    admin = runner.invoke(cli, ["user", "create", "boss", "--admin"], input="long enough\n")
    assert "created admin boss" in admin.output
    dup = runner.invoke(cli, ["user", "create", "ROOT"], input="long enough\n")
    assert dup.exit_code != 0 and "taken" in dup.output
    with engine.connect() as conn:
        roles = dict(conn.execute(select(User.__table__.c.username, User.__table__.c.role)).all())
    assert roles == {"root": "admin", "reader1": "reader", "cur": "curator", "boss": "admin"}


def test_roles():
    assert accounts.has_role(User(role="admin"), "curator")
    assert accounts.has_role(User(role="curator"), "curator")
    assert not accounts.has_role(User(role="reader"), "curator")
    assert not accounts.has_role(None, "reader")


EVIL_NEXT = [
    "/\t/evil.example",  # browsers drop the tab and follow //evil.example
    "/\n/evil.example", "/\r\n/evil.example", "/\x00/x", "/\x0b/x", "/\x7f/x", "/\x85/x",
    "/papers\r\nSet-Cookie: x=1",  # header injection
    "//evil.example", "/\\evil.example", "\\\\evil", "/\\/evil", "javascript:alert(1)", " /x", "",
]


def test_safe_next_refuses_control_characters_and_other_hosts():
    for target in EVIL_NEXT:
        assert accounts.safe_next(target, "/home") == "/home", repr(target)
    for target in ("/", "/papers/2401.00001", "/papers?q=a%09b&p=2", "/trending#top", "/papers?q=über"):
        assert accounts.safe_next(target) == target


def test_login_with_a_hostile_next_lands_on_this_site(engine, monkeypatch):
    monkeypatch.setenv("PAPERFEED_RATE_LIMIT_LOGIN", "1000/600")  # a login per target
    c = client(engine)
    accounts.create_user(engine, "eve", "correct horse")
    for target in EVIL_NEXT:
        page = soup(c.get("/login", params={"next": target}))
        assert page.find("input", {"name": "next"})["value"] == "/", repr(target)
        r = c.post("/login", data={"username": "eve", "password": "correct horse", "csrf_token": csrf(c),
                                   "next": target}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/", (repr(target), r.headers.get("location"))
        c.post("/logout", data={"csrf_token": csrf(c, "/")})


def test_cacheable_and_operator_answers_set_no_cookie(engine, monkeypatch):
    """Shared caches must not keep (and hand out) one visitor's session; pages still get one."""
    from tests.webdata import add_paper

    monkeypatch.setenv("PAPERFEED_METRICS_TOKEN", "m" * 40)
    add_paper(engine, "2401.00001", "A paper")
    c = client(engine)
    for path in ("/api/daily_papers", "/api/papers/2401.00001", "/api/papers/search?q=paper", "/api/nothing",
                 "/api/openapi.json", "/feeds/daily.atom", "/feeds/trending.rss", "/feeds/nothing",
                 "/static/site.css", "/static/nothing.css", "/healthz", "/metrics", "/papers/2401.00001.md"):
        r = c.get(path, headers={"Authorization": "Bearer " + "m" * 40})
        assert r.status_code < 500, path
        assert "set-cookie" not in r.headers, path
        assert not c.cookies, path
    # pages still get a session, and their forms work with it
    r = c.get("/login")
    assert accounts.COOKIE in r.headers["set-cookie"]
    assert csrf(c, "/login") == csrf(c, "/")  # the same session across pages
    accounts.create_user(engine, "ann", "correct horse")
    r = c.post("/login", data={"username": "ann", "password": "correct horse", "csrf_token": csrf(c)},
               follow_redirects=False)
    assert r.status_code == 303
    # a signed-in reader's API call keeps their session, and sets nothing either
    r = c.get("/api/daily_papers")
    assert "set-cookie" not in r.headers
    assert "ann" in c.get("/").text
