"""
`paperfeed user set-password/role/disable/enable/delete` and passwords kept off
the command line: each change takes effect on the site at once, ends the
user's sessions (their epoch moves), and deleting cascades the way the foreign
keys say.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import func, insert, select

from paperfeed.cli import cli
from paperfeed.models import Collection, DailyEntry, Follow, SavedPaper, User, Vote
from paperfeed.web import accounts, commands, useradmin
from tests.webdata import TODAY, add_paper, add_vote, client, csrf, sign_in, soup

users = User.__table__


def user(cli_args: list[str], input: str | None = None):
    return CliRunner().invoke(cli, ["user", *cli_args], input=input)


def row(engine, name: str):
    with engine.connect() as conn:
        return conn.execute(select(users).where(users.c.username == name)).first()


def log_in(engine, password: str, name: str = "bob"):
    c = client(engine)
    return c, c.post("/login", data={"username": name, "password": password, "csrf_token": csrf(c)}, follow_redirects=False)


def signed_in_as(c) -> str:
    return soup(c.get("/")).select_one(".account").get_text()


def test_set_password_reads_standard_input_and_ends_sessions(engine):
    accounts.create_user(engine, "bob", "correct horse")
    before = row(engine, "bob").session_epoch
    done = user(["set-password", "Bob", "--password-stdin"], input="battery staple\n")
    assert done.exit_code == 0, done.output
    assert "their sessions have ended" in done.output
    assert row(engine, "bob").session_epoch == before + 1
    assert log_in(engine, "correct horse")[1].status_code == 400
    assert log_in(engine, "battery staple")[1].status_code == 303
    # not a terminal: standard input is read without the flag too
    assert user(["set-password", "bob"], input="third password\n").exit_code == 0
    assert log_in(engine, "third password")[1].status_code == 303


def test_a_password_on_the_command_line_is_refused(engine):
    accounts.create_user(engine, "bob", "correct horse")
    for args in (
        ["set-password", "bob", "--password", "new password"],
        ["set-password", "bob", "--password=new password"],
        ["set-password", "bob", "new password"],
        ["create", "carol", "--password", "new password"],
    ):
        done = user(args, input="new password\n")
        assert done.exit_code == 2, (args, done.output)
        assert "Traceback" not in done.output
    assert "shows in `ps`" in user(["create", "carol", "--password", "x" * 12]).output
    assert row(engine, "carol") is None
    assert log_in(engine, "correct horse")[1].status_code == 303  # unchanged


def test_a_terminal_asks_twice_without_echo(engine, monkeypatch):
    monkeypatch.setattr(commands, "_interactive", lambda: True)
    accounts.create_user(engine, "bob", "correct horse")
    done = user(["set-password", "bob"], input="battery staple\nbattery staple\n")
    assert done.exit_code == 0, done.output
    assert "battery staple" not in done.output  # hidden input
    assert log_in(engine, "battery staple")[1].status_code == 303
    mismatch = user(["create", "carol"], input="first one\nsecond one\nfirst one\nfirst one\n")
    assert "do not match" in mismatch.output and mismatch.exit_code == 0
    assert log_in(engine, "first one", "carol")[1].status_code == 303


def test_bad_passwords_and_unknown_users_are_one_line(engine):
    accounts.create_user(engine, "bob", "correct horse")
    short = user(["set-password", "bob"], input="short\n")
    assert short.exit_code == 1 and "at least 8" in short.output
    empty = user(["set-password", "bob"], input="")
    assert empty.exit_code == 1 and "no password on standard input" in empty.output
    for args in (["set-password", "nobody"], ["disable", "nobody"], ["enable", "nobody"],
                 ["role", "nobody", "admin"], ["delete", "nobody", "--yes"]):
        done = user(args, input="long enough\n")
        assert done.exit_code == 1 and "no user named 'nobody'" in done.output, (args, done.output)
    assert user(["role", "bob", "owner"]).exit_code == 2  # not a role


def test_role_change_takes_effect_and_ends_sessions(engine):
    c = client(engine)
    sign_in(c, engine, "bob")
    epoch = row(engine, "bob").session_epoch
    done = user(["role", "bob", "curator"])
    assert done.exit_code == 0 and "bob is now a curator" in done.output
    assert row(engine, "bob").role == "curator" and row(engine, "bob").session_epoch == epoch + 1
    again = user(["role", "bob", "curator"])
    assert "already a curator" in again.output and row(engine, "bob").session_epoch == epoch + 1


def test_disable_signs_out_at_once_and_refuses_login(engine):
    c = client(engine)
    sign_in(c, engine, "bob")
    assert "bob" in signed_in_as(c)
    epoch = row(engine, "bob").session_epoch
    done = user(["disable", "bob"])
    assert done.exit_code == 0 and "disabled bob" in done.output
    assert row(engine, "bob").disabled_at is not None and row(engine, "bob").session_epoch == epoch + 1
    assert "Log in" in signed_in_as(c)  # the session that was open has ended
    other, r = log_in(engine, "correct horse")
    assert r.status_code == 403 and "disabled" in soup(r).select_one(".error").get_text()
    assert "Log in" in signed_in_as(other)
    _, wrong = log_in(engine, "wrong password")  # without the password, nothing is told
    assert wrong.status_code == 400 and "Wrong username or password" in wrong.text
    assert "already disabled" in user(["disable", "bob"]).output

    done = user(["enable", "bob"])
    assert done.exit_code == 0 and "enabled bob" in done.output
    assert row(engine, "bob").disabled_at is None
    again, r = log_in(engine, "correct horse")
    assert r.status_code == 303 and "bob" in signed_in_as(again)
    assert "was not disabled" in user(["enable", "bob"]).output


def test_delete_cascades_votes_and_library_and_keeps_submitted_entries(engine):
    add_paper(engine, "2401.00001", day=TODAY)
    add_paper(engine, "2401.00002", day=TODAY)
    bob = accounts.create_user(engine, "bob", "correct horse")
    alice = accounts.create_user(engine, "alice", "correct horse")
    now = datetime.now(UTC)
    add_vote(engine, bob, "2401.00001")
    add_vote(engine, alice, "2401.00001")
    with engine.begin() as conn:
        conn.execute(DailyEntry.__table__.update().where(DailyEntry.__table__.c.arxiv_id == "2401.00002").values(submitted_by_user=bob))
        conn.execute(insert(SavedPaper.__table__).values(user_id=bob, arxiv_id="2401.00001", note="", saved_at=now))
        conn.execute(insert(Collection.__table__).values(
            user_id=bob, name="Reading list", slug="reading-list", description="", is_default=True,
            is_public=False, created_at=now, updated_at=now,
        ))
        conn.execute(insert(Follow.__table__).values(user_id=bob, kind="category", key="cs.LG", label="cs.LG", created_at=now))

    refused = user(["delete", "bob"], input="n\n")
    assert refused.exit_code == 1 and row(engine, "bob") is not None  # asked, and answered no
    done = user(["delete", "bob"], input="y\n")
    assert done.exit_code == 0, done.output
    assert "deleted bob" in done.output and "1 votes" in done.output and "1 saved_papers" in done.output
    assert "kept without them: 1 daily_entries" in done.output

    assert row(engine, "bob") is None and row(engine, "alice") is not None
    with engine.connect() as conn:
        def count(model, **where):
            table = model.__table__
            query = select(func.count()).select_from(table)
            for name, value in where.items():
                query = query.where(table.c[name] == value)
            return conn.execute(query).scalar_one()

        assert count(Vote, user_id=bob) == 0 and count(Vote, user_id=alice) == 1
        assert count(SavedPaper, user_id=bob) == count(Collection, user_id=bob) == count(Follow, user_id=bob) == 0
        entry = conn.execute(select(DailyEntry.__table__).where(DailyEntry.__table__.c.arxiv_id == "2401.00002")).one()
        assert entry.submitted_by_user is None  # the paper stays on the day's list
        assert count(DailyEntry) == 2


def test_a_deleted_users_session_ends(engine):
    c = client(engine)
    sign_in(c, engine, "bob")
    assert user(["delete", "bob", "--yes"]).exit_code == 0
    assert "Log in" in signed_in_as(c)
    assert log_in(engine, "correct horse")[1].status_code == 400


def test_every_user_command_checks_the_settings(monkeypatch):
    monkeypatch.setenv("PAPERFEED_SECRET_KEY", "CHANGE-ME")
    done = user(["disable", "bob"])
    assert done.exit_code == 2 and "PAPERFEED_SECRET_KEY" in done.output


def test_the_commands_roles_are_the_sites():
    assert tuple(cli.commands["user"].commands["role"].params[1].type.choices) == accounts.ROLES


@pytest.mark.parametrize("name", ["bob", "BOB"])
def test_find_is_case_insensitive(engine, name):
    accounts.create_user(engine, "bob", "correct horse")
    with engine.connect() as conn:
        assert useradmin.find(conn, name).username == "bob"


# -- a cookie copied before the change stops working (another browser, a thief) --


def _copied_session(engine):
    """Bob signed in; his cookie, as another browser (or a thief) would hold it."""
    c, r = log_in(engine, "correct horse")
    assert r.status_code == 303 and "bob" in signed_in_as(c)
    return dict(c.cookies)


def _signed_in_with(engine, cookies) -> bool:
    other = client(engine)
    other.cookies.update(cookies)
    return "bob" in signed_in_as(other)


def test_logout_ends_the_session_in_every_browser(engine):
    accounts.create_user(engine, "bob", "correct horse")
    stolen = _copied_session(engine)
    assert _signed_in_with(engine, stolen)
    c, _ = log_in(engine, "correct horse")
    assert c.post("/logout", data={"csrf_token": csrf(c)}, follow_redirects=False).status_code == 303
    assert not _signed_in_with(engine, stolen)
    assert log_in(engine, "correct horse")[1].status_code == 303  # and a fresh login works


@pytest.mark.parametrize("change", [
    ["set-password", "bob", "--password-stdin"],
    ["role", "bob", "curator"],
    ["disable", "bob"],
])
def test_an_operator_change_ends_copied_sessions(engine, change):
    accounts.create_user(engine, "bob", "correct horse")
    stolen = _copied_session(engine)
    done = user(change, input="battery staple\n")
    assert done.exit_code == 0, done.output
    assert not _signed_in_with(engine, stolen)


def test_enable_does_not_revive_sessions_from_before_the_disable(engine):
    accounts.create_user(engine, "bob", "correct horse")
    stolen = _copied_session(engine)
    assert user(["disable", "bob"]).exit_code == 0
    assert user(["enable", "bob"]).exit_code == 0
    assert not _signed_in_with(engine, stolen)
    assert log_in(engine, "correct horse")[1].status_code == 303
