"""
The one registry of paperfeed's settings.

Every setting has a name, a default and a help line, and is read from the
environment as `PAPERFEED_<NAME>`.  `docs/` and `paperfeed settings` are
generated from `SETTINGS`, and a test fails when a setting is missing from the
docs.  There is no built-in secret: the secret key is generated on first use and
kept in the data directory.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str

    @property
    def env(self) -> str:
        return f"PAPERFEED_{self.name.upper()}"


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in [
        Setting("data_dir", "./paperfeed-data", "Directory for the SQLite database, indexes, rejects file and secret key."),
        Setting("database_url", "", "SQLAlchemy URL of the database; empty means SQLite `paperfeed.db` in the data directory. For PostgreSQL: `postgresql+psycopg://user:pass@host/db`."),
        Setting("secret_key", "", "Key for signing cookies and links; empty means generate one on first run and keep it in `<data_dir>/secret_key`."),
        Setting("batch_size", "2000", "Records written to the database per transaction during ingest."),
        Setting("arxiv_api_url", "https://export.arxiv.org/api/query", "arXiv API endpoint used by live Atom ingestion and paper submission."),
        Setting("arxiv_oai_url", "https://oaipmh.arxiv.org/oai", "arXiv OAI-PMH endpoint used by harvesting."),
        Setting("arxiv_delay", "3", "Seconds between requests to arXiv (their API etiquette asks for 3)."),
        Setting("http_retries", "4", "Retries, with exponential backoff, for failed requests to remote sources."),
    ]
}


def get(name: str) -> str:
    """The value of a setting: its environment variable, else its default."""
    setting = SETTINGS[name]
    return os.environ.get(setting.env, setting.default)


def get_int(name: str) -> int:
    return int(get(name))


def get_float(name: str) -> float:
    return float(get(name))


def data_dir() -> Path:
    path = Path(get("data_dir")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_url() -> str:
    url = get("database_url")
    if url:
        return url
    return f"sqlite:///{(data_dir() / 'paperfeed.db').resolve()}"


def secret_key() -> str:
    """The configured secret, or the one generated on first run (mode 0600)."""
    configured = get("secret_key")
    if configured:
        return configured
    path = data_dir() / "secret_key"
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
