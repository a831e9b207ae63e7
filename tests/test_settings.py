"""
Typed settings: good values parse to the right Python values, and a bad one
stops every command (`paperfeed serve` before it binds, `settings --check`) with
one line naming the variable, the value (secrets redacted) and what is allowed.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from paperfeed import settings
from paperfeed.cli import cli
from paperfeed.setting_types import Mailbox, Rate, Text


@pytest.fixture(autouse=True)
def clean_env(tmp_path, monkeypatch):
    """Only the defaults, whatever the developer's shell exports; a throwaway data directory."""
    for name in list(os.environ):
        if name.startswith("PAPERFEED_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PAPERFEED_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture
def no_bind(monkeypatch):
    """`paperfeed serve` must stop before uvicorn binds: any call to it fails the test."""
    import uvicorn

    def refuse(*args, **kwargs):
        raise AssertionError("paperfeed serve reached uvicorn.run with a bad setting")

    monkeypatch.setattr(uvicorn, "run", refuse)


GOOD = [
    ("rate_limit_login", "10/600", Rate(10, 600)),
    ("rate_limit_vote", " 4 / 86400 ", Rate(4, 86400)),
    ("allow_signup", "off", False),
    ("allow_signup", "Yes", True),
    ("digest_scheduler", "0", False),
    ("digest_hour", "0", 0),
    ("digest_hour", "23", 23),
    ("batch_size", "200", 200),
    ("smtp_port", "", None),
    ("smtp_port", "587", 587),
    ("smtp_timeout", "2.5", 2.5),
    ("arxiv_delay", "0", 0.0),
    ("trending_half_life_hours", "12", 12.0),
    ("smtp_tls", "STARTTLS", "starttls"),
    ("vector_dtype", "f16", "f16"),
    ("mail_from", "Paperfeed <papers@example.org>", Mailbox("Paperfeed", "papers@example.org")),
    ("mail_from", "papers@example.org", Mailbox("", "papers@example.org")),
    ("mail_from", "paperfeed@localhost", Mailbox("", "paperfeed@localhost")),
    ("digest_timezone", "Europe/Paris", ZoneInfo("Europe/Paris")),
    ("site_url", "https://papers.example.org", "https://papers.example.org"),
    ("site_url", "", ""),
    ("database_url", "postgresql+psycopg://u:p@db/pf", "postgresql+psycopg://u:p@db/pf"),
    ("database_url", "sqlite:////tmp/pf.db", "sqlite:////tmp/pf.db"),
    ("embedding_variant", "onnx-int8/192", "onnx-int8/192"),
    ("embedding_device", "cuda", "cuda"),
    ("data_dir", "~/papers", Path.home() / "papers"),
]


@pytest.mark.parametrize(("name", "text", "expected"), GOOD, ids=lambda v: repr(v)[:30])
def test_good_values_parse_to_python_values(monkeypatch, name, text, expected):
    monkeypatch.setenv(settings.SETTINGS[name].env, text)
    assert settings.value(name) == expected
    assert type(settings.value(name)) is type(expected)
    assert settings.get(name) == text  # the text as given, for code that reads strings
    assert settings.problems() == []


def test_number_accessors_are_built_on_the_typed_parse(monkeypatch):
    monkeypatch.setenv("PAPERFEED_DIGEST_HOUR", "5")
    monkeypatch.setenv("PAPERFEED_SMTP_TIMEOUT", "2.5")
    assert settings.get_int("digest_hour") == 5
    assert settings.get_float("smtp_timeout") == 2.5
    assert settings.get_float("digest_hour") == 5.0
    monkeypatch.setenv("PAPERFEED_DIGEST_HOUR", "24")
    with pytest.raises(settings.SettingError, match="PAPERFEED_DIGEST_HOUR='24'"):
        settings.get_int("digest_hour")


def test_a_rate_is_still_a_count_seconds_pair():
    count, seconds = settings.value("rate_limit_login")
    assert (count, seconds) == (10, 600)
    assert str(Mailbox("Paperfeed", "papers@example.org")) == "Paperfeed <papers@example.org>"


def test_every_default_is_allowed_and_every_setting_has_a_type():
    assert settings.problems() == []
    for s in settings.SETTINGS.values():
        assert s.type.name and s.type.allowed, s.env
        s.parse(s.default)


def test_boolean_settings_use_the_typed_parse(monkeypatch):
    from paperfeed.web.accounts import signup_open

    monkeypatch.setenv("PAPERFEED_ALLOW_SIGNUP", "no")
    assert signup_open() is False
    monkeypatch.setenv("PAPERFEED_ALLOW_SIGNUP", "ON")
    assert signup_open() is True


# one bad value per type: (variable, value, words the message must hold)
BAD = [
    ("PAPERFEED_RATE_LIMIT_LOGIN", "lots", "COUNT/SECONDS"),
    ("PAPERFEED_RATE_LIMIT_VOTE", "0/60", "1 or more"),
    ("PAPERFEED_BATCH_SIZE", "many", "whole number"),
    ("PAPERFEED_DIGEST_HOUR", "24", "0 to 23"),
    ("PAPERFEED_SMTP_PORT", "70000", "1 to 65535"),
    ("PAPERFEED_SMTP_TIMEOUT", "soon", "number of seconds"),
    ("PAPERFEED_ARXIV_DELAY", "nan", "number of seconds"),
    ("PAPERFEED_ALLOW_SIGNUP", "maybe", "true or false"),
    ("PAPERFEED_SITE_URL", "papers.example.org", "http or https URL"),
    ("PAPERFEED_MAIL_FROM", "Paperfeed papers", "e-mail address"),
    ("PAPERFEED_SMTP_TLS", "tls", "none, starttls or ssl"),
    ("PAPERFEED_DIGEST_TIMEZONE", "Mars/Olympus", "time zone"),
    ("PAPERFEED_DATABASE_URL", "mysql://db/pf", "SQLAlchemy URL"),
    ("PAPERFEED_EMBEDDING_VARIANT", "onnx-int4", "onnx-int8"),
]


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


@pytest.mark.parametrize(("env", "text", "words"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_value_stops_serve_before_it_binds(monkeypatch, no_bind, env, text, words):
    monkeypatch.setenv(env, text)
    result = CliRunner().invoke(cli, ["serve", "--port", "8765"])
    assert result.exit_code == 2, result.output
    line = one_line(result.stderr)
    assert line.startswith(f"Error: {env}={text!r} is not valid: expected"), line
    assert words in line
    assert "serving" not in result.stdout


@pytest.mark.parametrize(("env", "text", "words"), BAD, ids=[b[0] for b in BAD])
def test_settings_check_names_a_bad_value(monkeypatch, env, text, words):
    monkeypatch.setenv(env, text)
    result = CliRunner().invoke(cli, ["settings", "--check"])
    assert result.exit_code == 2, result.output
    line = one_line(result.stderr)
    assert line.startswith(f"Error: {env}={text!r}") and words in line


def test_a_data_dir_that_is_a_file_is_refused(tmp_path, monkeypatch, no_bind):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("PAPERFEED_DATA_DIR", str(tmp_path / "file"))
    result = CliRunner().invoke(cli, ["stats"])
    assert result.exit_code == 2
    assert "PAPERFEED_DATA_DIR" in one_line(result.stderr) and "it is a file" in result.stderr


def test_settings_check_lists_every_bad_value_and_passes_good_ones(monkeypatch):
    assert CliRunner().invoke(cli, ["settings", "--check"]).exit_code == 0
    for env, text, _ in BAD:
        monkeypatch.setenv(env, text)
    result = CliRunner().invoke(cli, ["settings", "--check"])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == len(BAD)
    for env, _, _ in BAD:
        assert f"Error: {env}=" in result.stderr


def test_settings_listing_still_shows_a_bad_value(monkeypatch):
    """`paperfeed settings` is how an operator finds the bad value: it is not refused."""
    monkeypatch.setenv("PAPERFEED_DIGEST_HOUR", "25")
    result = CliRunner().invoke(cli, ["settings"])
    assert result.exit_code == 0
    assert "PAPERFEED_DIGEST_HOUR=25\n" in result.stdout
    assert CliRunner().invoke(cli, ["settings", "--markdown"]).exit_code == 0


@pytest.mark.parametrize("url", [
    "postgresql+psycopg://bob:hunter2@db host/pf",  # invalid: a space
    "postgres://bob:hunter2@db/pf",  # invalid: SQLAlchemy's name is postgresql
    "mysql://bob:hun@ter2@db/pf",  # a password holding an @
    "bob:hunter2@db/pf",  # no scheme at all
    "postgresql://db/pf?user=bob&password=hunter2 x",
    "postgresql+psycopg://bob:hunter2@db:notaport/pf",  # invalid: SQLAlchemy's int(port) raised on connect
])
def test_a_database_password_is_redacted(monkeypatch, url):
    monkeypatch.setenv("PAPERFEED_DATABASE_URL", url)
    result = CliRunner().invoke(cli, ["settings", "--check"])
    assert result.exit_code == 2
    line = one_line(result.stderr)
    assert "PAPERFEED_DATABASE_URL=" in line and "***" in line
    assert "hunter2" not in line and "ter2" not in line
    if "@db" in url:
        assert "bob:***@" in line


@pytest.mark.parametrize("url", ["postgresql+psycopg://db:5432x/pf", "postgresql://db:/pf", "postgresql://[::1]:70000/pf"])
def test_a_database_url_with_a_bad_port_stops_serve_with_one_line(monkeypatch, no_bind, url):
    monkeypatch.setenv("PAPERFEED_DATABASE_URL", url)
    result = CliRunner().invoke(cli, ["serve", "--port", "8765"])
    assert result.exit_code == 2, result.output
    line = one_line(result.stderr)
    assert line.startswith(f"Error: PAPERFEED_DATABASE_URL={url!r} is not valid") and "port" in line


def test_a_database_url_with_a_port_still_parses():
    for url in ["postgresql+psycopg://u:p@db:5432/pf", "postgresql://u:p@[::1]:5433/pf?sslmode=require",
                "postgresql://u:p@/pf?host=/run/postgresql", "sqlite:///:memory:"]:
        assert settings.SETTINGS["database_url"].type.parse(url) == url


def test_a_secret_value_never_shows():
    """A secret setting with a rule (e.g. a later token or key check) shows *** whatever it holds."""

    def long_enough(value: str) -> None:
        """at least 32 characters"""
        if value and len(value) < 32:
            raise ValueError("expected at least 32 characters")

    token = settings.Setting("metrics_token", "", "Bearer token for /metrics.", Text(empty=True), secret=True, check=long_enough)
    with pytest.raises(settings.SettingError) as caught:
        token.parse("hunter2")
    assert str(caught.value) == "PAPERFEED_METRICS_TOKEN='***' is not valid: expected at least 32 characters"
    assert token.parse("") == "" and token.parse("x" * 32) == "x" * 32
    assert token.allowed == "any text; at least 32 characters"


def test_create_app_refuses_bad_settings(monkeypatch):
    """Not a 500 at every login: the app is not built at all."""
    from paperfeed.web.app import create_app

    monkeypatch.setenv("PAPERFEED_RATE_LIMIT_LOGIN", "lots")
    with pytest.raises(settings.SettingError, match="PAPERFEED_RATE_LIMIT_LOGIN='lots'"):
        create_app()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_paperfeed(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    environment.update(env, PAPERFEED_DATA_DIR=os.environ["PAPERFEED_DATA_DIR"])
    return subprocess.run(
        [sys.executable, "-m", "paperfeed.cli", *args], env=environment,
        capture_output=True, text=True, timeout=120,
    )


def test_the_real_serve_command_exits_2_with_one_line():
    port = free_port()
    done = run_paperfeed("serve", "--port", str(port), PAPERFEED_RATE_LIMIT_LOGIN="lots")
    assert done.returncode == 2, done.stderr
    assert one_line(done.stderr).startswith("Error: PAPERFEED_RATE_LIMIT_LOGIN='lots' is not valid")
    assert done.stdout == ""  # not even "serving on …"


def test_help_still_works_with_a_bad_value():
    for args in (["serve", "--help"], ["digest", "send", "--help"], ["--help"]):
        done = run_paperfeed(*args, PAPERFEED_RATE_LIMIT_LOGIN="lots")
        assert done.returncode == 0, done.stderr
        assert "Usage:" in done.stdout and done.stderr == ""


# the signing key (issue 12): a copied example key would let anyone forge an admin session
WEAK_KEYS = [
    ("CHANGE-ME", "placeholder"),
    ("changeme", "placeholder"),
    ("Your-Secret-Key", "placeholder"),
    ("devkey", "placeholder"),
    ("SECRET", "placeholder"),
    ("changemechangemechangemechangemechangeme", "placeholder"),
    ("CHANGE-ME-before-going-live-0123456789", "placeholder"),
    ("x" * 64, "repeats one character"),
    ("ab" * 24, "repeats"),
    ("k3Jx9-Qp2Lm_Zt7", "shorter than 32"),
]


@pytest.mark.parametrize(("key", "why"), WEAK_KEYS, ids=[k for k, _ in WEAK_KEYS])
def test_a_weak_secret_key_stops_serve_and_settings_check(monkeypatch, no_bind, key, why):
    monkeypatch.setenv("PAPERFEED_SECRET_KEY", key)
    for args in (["serve", "--port", "8765"], ["settings", "--check"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2, result.output
        line = one_line(result.stderr)
        assert line.startswith("Error: PAPERFEED_SECRET_KEY='***' is not valid: expected"), line
        assert why in line and "secrets.token_urlsafe(48)" in line
        assert key not in line.replace("PAPERFEED_SECRET_KEY", "")  # a secret, even a bad one, never shows
        assert "serving" not in result.stdout


def test_a_weak_secret_key_stops_create_app(monkeypatch):
    from paperfeed.web.app import create_app

    monkeypatch.setenv("PAPERFEED_SECRET_KEY", "CHANGE-ME")
    with pytest.raises(settings.SettingError, match="PAPERFEED_SECRET_KEY='\\*\\*\\*' is not valid"):
        create_app()


def test_a_generated_key_passes_and_empty_still_means_the_stored_one(monkeypatch, tmp_path):
    import secrets

    key = secrets.token_urlsafe(36)  # 48 characters
    assert len(key) == 48
    monkeypatch.setenv("PAPERFEED_SECRET_KEY", key)
    result = CliRunner().invoke(cli, ["settings", "--check"])
    assert result.exit_code == 0, result.output
    assert settings.secret_key() == key
    assert settings.value("secret_key") == key
    monkeypatch.setenv("PAPERFEED_SECRET_KEY", secrets.token_hex(16))  # 32 hex digits: enough
    assert CliRunner().invoke(cli, ["settings", "--check"]).exit_code == 0
    monkeypatch.setenv("PAPERFEED_SECRET_KEY", "")
    stored = settings.secret_key()
    assert stored == (tmp_path / "data" / "secret_key").read_text().strip() and len(stored) >= 32


def test_the_example_env_file_does_not_ship_a_key():
    example = (Path(__file__).resolve().parents[1] / "deploy" / "paperfeed.env.example").read_text()
    assigned = [line for line in example.splitlines() if line.startswith("PAPERFEED_SECRET_KEY=")]
    assert assigned == [] and "secrets.token_urlsafe(48)" in example
