"""
Sending email over SMTP (stdlib `smtplib`), configured by the `smtp_*` settings.

- `PAPERFEED_SMTP_TLS`: `none`, `starttls` (plain connection upgraded with
  STARTTLS; the port defaults to 587) or `ssl` (TLS from the first byte; 465);
  login when `smtp_user` is set.  Certificates are verified.
- Temporary failures (4xx replies, refused or dropped connections, timeouts)
  are retried with exponential backoff (`smtp_retries`, `smtp_backoff`);
  when they persist the message raises `TemporaryFailure` and stays queued.
- A 5xx reply to the recipient or the message raises `PermanentFailure`: the
  address is bad, retrying will not help.  A 5xx to the login or the sender
  raises `ServerRefused`: our configuration is wrong, not the subscriber.
- At most `mail_rate_per_minute` messages leave per rolling minute.

Clocks and sleeps are injectable so tests measure the rate limit and backoff
without waiting.
"""

from __future__ import annotations

import collections
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr

from paperfeed import settings


class TemporaryFailure(Exception):
    """The message could not be sent now; it may go through later."""


class PermanentFailure(Exception):
    """The server rejected this recipient or message for good (5xx)."""

    def __init__(self, code: int, message: str):
        super().__init__(f"{code} {message}")
        self.code = code


class ServerRefused(Exception):
    """The server rejected us (login, sender address, greeting): a configuration problem."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "localhost"
    port: int = 25
    user: str = ""
    password: str = ""
    tls: str = "none"
    timeout: float = 30.0

    @classmethod
    def from_settings(cls) -> SmtpConfig:
        tls = settings.get("smtp_tls").strip().lower() or "none"
        if tls not in ("none", "starttls", "ssl"):
            raise ValueError(f"PAPERFEED_SMTP_TLS must be none, starttls or ssl, not {tls!r}")
        port = settings.get("smtp_port").strip()
        default = {"ssl": 465, "starttls": 587}.get(tls, 25)
        return cls(
            host=settings.get("smtp_host"),
            port=int(port) if port else default,
            user=settings.get("smtp_user"),
            password=settings.get("smtp_password"),
            tls=tls,
            timeout=settings.get_float("smtp_timeout"),
        )


class RateLimiter:
    """At most `per_minute` events in any 60-second window (0 means no limit)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic, sleep=time.sleep):
        self.per_minute = per_minute
        self.clock = clock
        self.sleep = sleep
        self.sent: collections.deque[float] = collections.deque()

    def wait(self) -> None:
        if self.per_minute <= 0:
            return
        now = self.clock()
        while self.sent and now - self.sent[0] >= 60.0:
            self.sent.popleft()
        if len(self.sent) >= self.per_minute:
            self.sleep(60.0 - (now - self.sent[0]))
            now = self.clock()
            self.sent.popleft()
        self.sent.append(now)


def _code(exc: Exception) -> int | None:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return max(codes) if codes else None
    return getattr(exc, "smtp_code", None)


class Mailer:
    """One reusable SMTP connection with retries, backoff and a rate limit."""

    def __init__(
        self,
        config: SmtpConfig | None = None,
        retries: int | None = None,
        backoff: float | None = None,
        rate_per_minute: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.config = config or SmtpConfig.from_settings()
        self.retries = settings.get_int("smtp_retries") if retries is None else retries
        self.backoff = settings.get_float("smtp_backoff") if backoff is None else backoff
        per_minute = settings.get_int("mail_rate_per_minute") if rate_per_minute is None else rate_per_minute
        self.limiter = RateLimiter(per_minute, clock, sleep)
        self.sleep = sleep
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        if c.tls == "ssl":
            smtp = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
            if c.tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())
        smtp.ehlo_or_helo_if_needed()
        if c.user:
            smtp.login(c.user, c.password)
        return smtp

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def _drop(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            except OSError:
                pass
            self._smtp = None

    def send(self, msg: EmailMessage) -> None:
        """Hand `msg` to the server, waiting for the rate limit and retrying temporary failures."""
        sender = parseaddr(str(msg["From"]))[1] or str(msg["From"])
        recipient = parseaddr(str(msg["To"]))[1] or str(msg["To"])
        self.limiter.wait()
        for attempt in range(self.retries + 1):
            try:
                if self._smtp is None:
                    self._smtp = self._connect()
                self._smtp.send_message(msg, from_addr=sender, to_addrs=[recipient])
                return
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError) as e:
                code = _code(e) or 451
                if 500 <= code < 600:
                    raise PermanentFailure(code, str(e)) from e
                error: Exception = e
                self._drop()  # after a 421 the server has closed the channel; start afresh
            except smtplib.SMTPResponseException as e:  # greeting, login, MAIL FROM
                if 500 <= e.smtp_code < 600:
                    self._drop()
                    raise ServerRefused(f"{e.smtp_code} {e.smtp_error!r}") from e
                error = e
                self._drop()
            except (smtplib.SMTPException, OSError) as e:  # dropped or refused connection, timeout
                error = e
                self._drop()
            if attempt < self.retries:
                self.sleep(self.backoff * 2**attempt)
        raise TemporaryFailure(f"{type(error).__name__}: {error}")
