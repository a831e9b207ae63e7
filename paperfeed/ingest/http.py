"""
A small, polite HTTP client for the remote sources (arXiv API, OAI-PMH).

arXiv asks API users to make at most one request every three seconds and to
back off when told to: its OAI-PMH endpoint answers `503` with a `Retry-After`
header as routine flow control.  So every request here waits until at least
`arxiv_delay` seconds have passed since the previous request to the same host
(in this process), retries connection errors and 5xx answers with exponential
backoff up to `http_retries` times, and honours `Retry-After` (seconds or an
HTTP date) up to `MAX_WAIT`.  When the retries run out it raises `FetchError`,
an `OSError`, so the ingest runner reports the source as failed like an
unreadable file.

Those retries suit a command that may take minutes, not a web request that
holds a worker thread: a caller answering a person (`/submit`) passes
`retries=0`, a short `timeout` and a small `max_wait`, so it makes one call,
waits at most `max_wait` for its turn, and gets a `FetchError` saying whether
the source was slow (`timed_out`) or refused (`status`, `retry_after`) to tell
the person when to try again.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import urlsplit

import httpx

from paperfeed import settings

MAX_WAIT = 300.0  # longest Retry-After we honour, in seconds; a longer one is cut to this
BACKOFF = 2.0  # first backoff in seconds; doubles on each retry
TIMEOUT = httpx.Timeout(60.0, connect=15.0)
# Indirection points, so tests can observe waits instead of sleeping through them.
SLEEP = time.sleep
CLOCK = time.monotonic

_last_request: dict[str, float] = {}  # host -> CLOCK() of our last request to it
_lock = threading.Lock()


class FetchError(OSError):
    """A remote source could not be fetched (after retries, where retrying made sense)."""

    def __init__(
        self,
        message: str,
        url: str,
        status: int | None = None,
        body: bytes = b"",
        *,
        retry_after: float | None = None,
        timed_out: bool = False,
    ):
        super().__init__(message)
        self.url = url
        self.status = status
        self.body = body  # the error response's body: arXiv's API explains a 400 in an Atom feed
        self.retry_after = retry_after  # seconds the source (or our own queue) asked us to wait
        self.timed_out = timed_out  # the source did not answer within the timeout


def user_agent() -> str:
    try:
        ours = version("paperfeed")
    except PackageNotFoundError:
        ours = "dev"
    return f"paperfeed/{ours} (self-hosted paper discovery; python-httpx/{httpx.__version__})"


def session(timeout: float | None = None) -> httpx.Client:
    """A client for a run of requests (one harvest, one paged query): keeps its connection.

    `timeout` (seconds, for connecting and for each read) replaces the default `TIMEOUT`.
    """
    limit = TIMEOUT if timeout is None else httpx.Timeout(timeout)
    return httpx.Client(headers={"User-Agent": user_agent()}, timeout=limit, follow_redirects=True)


def get(
    url: str,
    params: dict[str, str] | None = None,
    *,
    delay: float | None = None,
    retries: int | None = None,
    max_wait: float | None = None,
    timeout: float | None = None,
    client: httpx.Client | None = None,
) -> bytes:
    """The body of a successful GET of `url`, fetched politely; `FetchError` otherwise.

    `delay` and `retries` default to the settings `arxiv_delay` and
    `http_retries`; `max_wait` (default `MAX_WAIT`) caps any single wait, and
    a turn further away than that is refused (`FetchError` with `retry_after`)
    rather than waited for; `timeout` applies when this call makes its own client.
    """
    delay = settings.get_float("arxiv_delay") if delay is None else delay
    retries = settings.get_int("http_retries") if retries is None else retries
    own = client is None
    client = client or session(timeout)
    try:
        return _get(client, url, params, delay, retries, MAX_WAIT if max_wait is None else max_wait)
    finally:
        if own:
            client.close()


def _get(client: httpx.Client, url: str, params, delay: float, retries: int, max_wait: float) -> bytes:
    host = urlsplit(url).netloc
    attempt = 0
    while True:
        _wait_turn(host, delay, max_wait, url)
        timed_out = False
        try:
            response = client.get(url, params=params)
        except httpx.TransportError as e:  # connection refused/reset, DNS, timeouts
            problem, wait, body, status = f"{type(e).__name__}: {e}", None, b"", None
            timed_out = isinstance(e, httpx.TimeoutException)
        else:
            if response.is_success:
                return response.content
            status, body = response.status_code, response.content
            problem = f"HTTP {status} {response.reason_phrase}".strip()
            if not (status >= 500 or status == 429):
                raise FetchError(f"{problem} from {url}", url, status, body)
            wait = retry_after(response.headers.get("Retry-After"))
        if attempt >= retries:
            raise FetchError(
                f"{problem} from {url} (gave up after {attempt + 1} attempts)", url, status, body,
                retry_after=wait, timed_out=timed_out,
            )
        SLEEP(min(wait if wait is not None else BACKOFF * 2**attempt, max_wait))
        attempt += 1


def _wait_turn(host: str, delay: float, max_wait: float, url: str) -> None:
    """Claim the next turn at `host` (`delay` seconds after the last one claimed), then sleep until it.

    The lock is held only to claim the turn, never while sleeping, so a caller
    with little patience is refused at once when its turn is more than
    `max_wait` away instead of queueing behind sleepers.
    """
    with _lock:
        now = CLOCK()
        turn = now
        if delay > 0 and host in _last_request:
            turn = max(now, _last_request[host] + delay)
        if turn - now > max_wait:
            raise FetchError(
                f"too many requests queued for {host}; our turn is {turn - now:.0f} s away", url,
                retry_after=turn - now,
            )
        _last_request[host] = turn
    if turn > now:
        SLEEP(turn - now)


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
