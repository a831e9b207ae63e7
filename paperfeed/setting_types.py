"""
The types a setting can have: how its text becomes a value, and what text is allowed.

Each type is a small frozen object with `parse(text) -> value`, which raises
`ValueError("expected …")` saying what is allowed, plus the two phrases the
generated docs show (`name`, `allowed`).  A new kind of value is a subclass
that overrides `parse` (and `allowed`); a one-off rule on top of a type is the
`check` of a `Setting` (see `paperfeed.settings`).  Nothing here reads the
environment, and nothing heavy is imported: every command parses every
setting before it starts, `--help` included in the cost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit


class Rate(NamedTuple):
    """A rate limit: at most `count` events per `seconds`."""

    count: int
    seconds: int


class Mailbox(NamedTuple):
    """An e-mail address and its optional display name."""

    name: str
    address: str

    def __str__(self) -> str:
        return f"{self.name} <{self.address}>" if self.name else self.address


def _range(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{low:g} to {high:g}"
    if low is not None:
        return f"{low:g} or more"
    if high is not None:
        return f"{high:g} or less"
    return "any"


def _of(unit: str) -> str:
    return f" of {unit}" if unit else ""


def _or_empty(text: str, empty: bool) -> str:
    return f"{text}, or empty" if empty else text


@dataclass(frozen=True, kw_only=True)
class Type:
    """Any text (the base of every type). `empty`: whether "" is allowed (it parses to the empty value)."""

    empty: bool = False
    name = "text"

    @property
    def allowed(self) -> str:
        return "any text" if self.empty else "any text but empty"

    def parse(self, text: str) -> Any:
        text = text.strip()
        if not text:
            if self.empty:
                return self.blank()
            raise self.error()
        return self.convert(text)

    def blank(self) -> Any:
        return ""

    def convert(self, text: str) -> Any:
        return text

    def error(self, why: str = "") -> ValueError:
        return ValueError(f"expected {self.allowed}{f' ({why})' if why else ''}")

    def redact(self, text: str) -> str:
        """The text as it may appear in messages and logs."""
        return text


@dataclass(frozen=True, kw_only=True)
class Text(Type):
    """Text, optionally matching `pattern` (whole), described as `means`."""

    pattern: str = ""
    means: str = ""

    @property
    def allowed(self) -> str:
        return _or_empty(self.means, self.empty) if self.means else super().allowed

    def convert(self, text: str) -> str:
        if self.pattern and not re.fullmatch(self.pattern, text):
            raise self.error()
        return text


@dataclass(frozen=True, kw_only=True)
class Int(Type):
    min: int | None = None
    max: int | None = None
    unit: str = ""
    name = "integer"

    @property
    def allowed(self) -> str:
        return _or_empty(f"a whole number{_of(self.unit)}, {_range(self.min, self.max)}", self.empty)

    def blank(self) -> None:
        return None

    def convert(self, text: str) -> int:
        if not re.fullmatch(r"[+-]?\d+", text):
            raise self.error()
        return self._within(int(text))

    def _within(self, number):
        if (self.min is not None and number < self.min) or (self.max is not None and number > self.max):
            raise self.error()
        return number


@dataclass(frozen=True, kw_only=True)
class Float(Int):
    min: float | None = None
    max: float | None = None
    name = "number"

    @property
    def allowed(self) -> str:
        return _or_empty(f"a number{_of(self.unit)}, {_range(self.min, self.max)}", self.empty)

    def convert(self, text: str) -> float:
        try:
            number = float(text)
        except ValueError:
            raise self.error() from None
        if number != number or number in (float("inf"), float("-inf")):
            raise self.error()
        return self._within(number)


@dataclass(frozen=True, kw_only=True)
class Duration(Float):
    """A length of time in `unit` (seconds unless said), as a number of that unit."""

    min: float | None = 0
    unit: str = "seconds"
    name = "duration"


@dataclass(frozen=True, kw_only=True)
class Bool(Type):
    name = "boolean"
    TRUE = ("true", "1", "yes", "on")
    FALSE = ("false", "0", "no", "off")

    @property
    def allowed(self) -> str:
        return "true or false (also 1/0, yes/no, on/off)"

    def convert(self, text: str) -> bool:
        word = text.lower()
        if word in self.TRUE:
            return True
        if word in self.FALSE:
            return False
        raise self.error()


@dataclass(frozen=True, kw_only=True)
class Choice(Type):
    """One of `values` (compared without case); parses to the value as listed."""

    values: tuple[str, ...] = ()
    name = "choice"

    @property
    def allowed(self) -> str:
        listed = [f"`{v}`" for v in self.values]
        text = listed[0] if len(listed) == 1 else f"{', '.join(listed[:-1])} or {listed[-1]}"
        return _or_empty(f"one of {text}", self.empty)

    def convert(self, text: str) -> str:
        for value in self.values:
            if text.lower() == value.lower():
                return value
        raise self.error()


def redact_url(text: str) -> str:
    """`text` with any password in it replaced by `***` (even when it is not a well-formed URL)."""
    text = re.sub(r"(://[^/@:]*:).*@", r"\1***@", text)  # greedy: a password may hold an @
    text = re.sub(r"^([^/@:]*:)(?!//).*@", r"\1***@", text)  # user:pass@host without a scheme
    return re.sub(r"(?i)(password=)[^&]*", r"\1***", text)


@dataclass(frozen=True, kw_only=True)
class Url(Type):
    """An absolute URL with one of `schemes`; parses to the text as given."""

    schemes: tuple[str, ...] = ("http", "https")
    example: str = "https://papers.example.org"
    name = "URL"

    @property
    def allowed(self) -> str:
        kinds = " or ".join(self.schemes)
        return _or_empty(f"an absolute {kinds} URL, e.g. `{self.example}`", self.empty)

    def convert(self, text: str) -> str:
        try:
            parts = urlsplit(text)
        except ValueError:
            raise self.error() from None
        if parts.scheme.lower() not in self.schemes or not parts.netloc or re.search(r"\s", text):
            raise self.error()
        return text

    def redact(self, text: str) -> str:
        return redact_url(text)


@dataclass(frozen=True, kw_only=True)
class DatabaseUrl(Type):
    """An SQLAlchemy database URL (`dialect[+driver]://…`); its password never shows."""

    name = "database URL"

    @property
    def allowed(self) -> str:
        return _or_empty(
            "an SQLAlchemy URL such as `sqlite:////path/paperfeed.db` or "
            "`postgresql+psycopg://user:pass@host/db`", self.empty,
        )

    def convert(self, text: str) -> str:
        if not re.fullmatch(r"(sqlite|postgresql)(\+\w+)?://\S*", text):
            raise self.error()
        # the port as SQLAlchemy's `make_url` reads it (its pattern, without importing it),
        # which would otherwise fail on the first connection with a traceback
        port = _DB_PORT.match(text.partition("://")[2])["port"]
        if port is not None and not (re.fullmatch(r"[0-9]+", port) and 1 <= int(port) <= 65535):
            raise self.error("the port must be a whole number, 1 to 65535")
        return text

    def redact(self, text: str) -> str:
        return redact_url(text)


# after `://`: [user[:password]@][host or [ipv6]][:port], as sqlalchemy.engine.url._parse_url
_DB_PORT = re.compile(r"(?:[^:/]*(?::[^@]*)?@)?(?:(?:\[[^/?]+\]|[^/:?]+)?(?::(?P<port>[^/?]*))?)?")


@dataclass(frozen=True, kw_only=True)
class RateType(Type):
    name = "rate"

    @property
    def allowed(self) -> str:
        return "COUNT/SECONDS, two whole numbers 1 or more, e.g. `10/600`"

    def convert(self, text: str) -> Rate:
        match = re.fullmatch(r"(\d+)\s*/\s*(\d+)", text)
        if not match or int(match[1]) < 1 or int(match[2]) < 1:
            raise self.error()
        return Rate(int(match[1]), int(match[2]))


@dataclass(frozen=True, kw_only=True)
class Email(Type):
    """An address, alone or with a display name (`Paperfeed <papers@example.org>`)."""

    name = "e-mail address"

    @property
    def allowed(self) -> str:
        return "an e-mail address, alone or as `Name <address>`, e.g. `Paperfeed <papers@example.org>`"

    def convert(self, text: str) -> Mailbox:
        match = re.fullmatch(r"(?:(?P<name>[^<>]*?)\s*<(?P<inner>[^<>]*)>|(?P<bare>[^<>]*))", text)
        address = match and (match["inner"] if match["inner"] is not None else match["bare"])
        # no spaces or line breaks: the value goes into a mail header
        if not address or not re.fullmatch(r"[^@\s]+@[^@\s.][^@\s]*", address) or re.search(r"[\r\n]", text):
            raise self.error()
        return Mailbox((match["name"] or "").strip().strip('"'), address)


@dataclass(frozen=True, kw_only=True)
class TimeZone(Type):
    """An IANA time zone name; parses to its `ZoneInfo`."""

    name = "time zone"

    @property
    def allowed(self) -> str:
        return "an IANA time zone name, e.g. `UTC` or `Europe/Paris`"

    def convert(self, text: str):
        from zoneinfo import ZoneInfo

        try:
            return ZoneInfo(text)
        except (ValueError, KeyError, OSError):  # not found, not a valid key, a directory
            raise self.error() from None


@dataclass(frozen=True, kw_only=True)
class Directory(Type):
    """A directory path (`~` expanded); it may not exist yet, but must not be a file."""

    name = "path"

    @property
    def allowed(self) -> str:
        return "a directory path (created when missing)"

    def convert(self, text: str) -> Path:
        path = Path(text).expanduser()
        if path.exists() and not path.is_dir():
            raise self.error("it is a file")
        return path


# -- signing keys ---------------------------------------------------------------

MIN_KEY_LENGTH = 32
GENERATE_KEY = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
# What example files, tutorials and frameworks' dev defaults put where a key belongs,
# compared without case and punctuation (CHANGE-ME is changeme); a key that starts
# with one of the first list (`changeme-then-anything`) is refused too.
PLACEHOLDER_PREFIXES = (
    "changeme", "changethis", "changeit", "replaceme", "secret", "yoursecret", "mysecret",
    "notasecret", "supersecret", "topsecret", "devkey", "insecure", "djangoinsecure",
    "placeholder", "fixme",
)
PLACEHOLDER_KEYS = (
    "dev", "key", "test", "testing", "todo", "xxx", "password", "passw0rd", "default",
    "example", "paperfeed", "letmein", "qwerty", "none", "null",
)


def signing_key(key: str) -> None:
    """at least 32 random characters, not a placeholder such as `CHANGE-ME`; generate one with `python -c 'import secrets; print(secrets.token_urlsafe(48))'`

    The check of a setting holding a key that signs sessions or e-mailed links
    (empty is left to the setting: it means a generated key).  A copied example
    key lets anyone who read the example forge an admin session, so it is
    refused at start-up rather than trusted.
    """
    if not key:
        return
    letters = re.sub(r"[^a-z0-9]", "", key.lower())
    if letters.startswith(PLACEHOLDER_PREFIXES) or letters in PLACEHOLDER_KEYS:
        why = "it is a placeholder"
    elif _repeats(key):
        why = "it repeats one character or one short run of characters"
    elif len(key) < MIN_KEY_LENGTH:
        why = f"it is shorter than {MIN_KEY_LENGTH} characters"
    elif len(set(key)) < 8:
        why = "it uses fewer than 8 different characters"
    else:
        return
    raise ValueError(
        f"expected a random key of at least {MIN_KEY_LENGTH} characters ({why}); "
        f"generate one with: {GENERATE_KEY}"
    )


def signing_keys(text: str) -> None:
    """comma-separated keys, each as for `PAPERFEED_SECRET_KEY`"""
    if not text:
        return
    for key in text.split(","):
        signing_key(key.strip() or "x")  # an empty item is a typo, not "generate one"


def _repeats(key: str) -> bool:
    """Whether `key` is one run of up to 16 characters said again (`aaaa…`, `abcabc…`, `changemechangeme…`)."""
    return any(
        len(key) >= 2 * period and key == (key[:period] * (len(key) // period + 1))[: len(key)]
        for period in range(1, 17)
    )
