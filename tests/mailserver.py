"""
A real SMTP server for the digest tests: aiosmtpd on 127.0.0.1 at a free port,
collecting every message it accepts.  `fail` lets a test make it answer a
recipient or a message with an error code (4xx temporary, 5xx permanent).
"""

from __future__ import annotations

import email
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Handler:
    # fail(stage, address) -> an SMTP reply such as "550 no such user", or None to accept
    fail: Callable[[str, str], str | None] | None = None
    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    on_message: Callable[[int], None] | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.fail and self.fail("rcpt", address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        reply = self.fail and self.fail("data", envelope.rcpt_tos[0])
        if reply:
            return reply
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), msg))
            count = len(self.messages)
        if self.on_message:
            self.on_message(count)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [r.message for r in self.messages if address in r.rcpt_tos]


class MailServer:
    def __init__(self):
        self.handler = Handler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.messages)

    def env(self) -> dict[str, str]:
        return {
            "PAPERFEED_SMTP_HOST": "127.0.0.1",
            "PAPERFEED_SMTP_PORT": str(self.port),
            "PAPERFEED_SMTP_TLS": "none",
            "PAPERFEED_MAIL_FROM": "Paperfeed <papers@example.org>",
            "PAPERFEED_SITE_URL": "https://papers.example.org",
            "PAPERFEED_MAIL_RATE_PER_MINUTE": "0",
            "PAPERFEED_SMTP_BACKOFF": "0",
        }

    def __enter__(self) -> MailServer:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()
