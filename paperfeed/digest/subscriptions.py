"""
A subscription's life: subscribe → confirm (double opt-in) → preferences →
unsubscribe, plus the purge of addresses never confirmed.

Links in emails carry signed tokens (itsdangerous, keyed by the site's secret
and salted per purpose, so a token for one purpose is useless for another):

- `confirm` expires after `confirm_days` days;
- `unsubscribe` never expires (RFC 8058: an old digest's link must still work);
- `manage` (preferences and the digest preview) lasts a year; every digest
  carries a fresh one.

Each token names the subscriber and a hash of the address, so a token issued
before an address was deleted and signed up again does not fit the new row.
The token is the only key to a subscriber's saved searches: no page lists them
without it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import Engine, delete, insert, select, update

from paperfeed import settings
from paperfeed.models import Subscriber

subscribers = Subscriber.__table__

MAX_SEARCHES = 10
MAX_QUERY_CHARS = 2000
MAX_PAPERS = 50
MANAGE_DAYS = 365
_EMAIL = re.compile(r"^[^@\s<>\"(),;:]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$")
_CATEGORY = re.compile(r"^[A-Za-z-]+(?:\.[A-Za-z-]+)?$")


class SubscriptionError(ValueError):
    """A value a subscriber gave that cannot be used; the message says why."""


class TokenError(Exception):
    """A link's token that cannot be used; `purpose` is what the link was for."""

    def __init__(self, purpose: str) -> None:
        super().__init__(purpose)
        self.purpose = purpose


class TokenExpired(TokenError):
    pass


class TokenInvalid(TokenError):
    pass


def utcnow() -> datetime:
    return datetime.now(UTC)


# -- validation ------------------------------------------------------------------


def normalize_email(raw: str) -> str:
    """The address as stored: trimmed, domain lower-cased; SubscriptionError if malformed."""
    value = (raw or "").strip()
    if len(value) > 254 or not _EMAIL.match(value):
        raise SubscriptionError("That does not look like an email address.")
    local, domain = value.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def check_timezone(name: str) -> str:
    try:
        zone(name.strip())
    except (ZoneInfoNotFoundError, ValueError, KeyError) as e:
        raise SubscriptionError(f"Unknown time zone {name!r}; use a name like Europe/Paris.") from e
    return name.strip()


def check_searches(searches) -> list[str]:
    cleaned = []
    for q in searches:
        q = " ".join(str(q).split())
        if q and q not in cleaned:
            cleaned.append(q[:MAX_QUERY_CHARS])
    if len(cleaned) > MAX_SEARCHES:
        raise SubscriptionError(f"At most {MAX_SEARCHES} saved searches.")
    return cleaned


def check_categories(categories) -> list[str]:
    cleaned = []
    for c in categories:
        c = str(c).strip()
        if not c:
            continue
        if not _CATEGORY.match(c) or len(c) > 32:
            raise SubscriptionError(f"{c!r} is not an arXiv category (like cs.LG or math).")
        if c not in cleaned:
            cleaned.append(c)
    return cleaned


def preferences(
    frequency: str = "daily",
    hour: int | str | None = None,
    timezone: str | None = None,
    weekday: int | str = 0,
    categories=(),
    searches=(),
    max_papers: int | str | None = None,
    for_you: bool | None = None,
) -> dict:
    """Checked column values for a subscriber's preferences (SubscriptionError if not).

    `for_you` (the personal sections) is left as it is when None."""
    if frequency not in ("daily", "weekly"):
        raise SubscriptionError("Choose daily or weekly.")
    try:
        hour = settings.get_int("digest_hour") if hour in (None, "") else int(hour)
        weekday = int(weekday)
        max_papers = settings.get_int("digest_papers") if max_papers in (None, "") else int(max_papers)
    except ValueError as e:
        raise SubscriptionError("Hour, weekday and number of papers must be whole numbers.") from e
    if not 0 <= hour <= 23:
        raise SubscriptionError("The hour must be between 0 and 23.")
    if not 0 <= weekday <= 6:
        raise SubscriptionError("The weekday must be between 0 (Monday) and 6 (Sunday).")
    if not 1 <= max_papers <= MAX_PAPERS:
        raise SubscriptionError(f"The number of papers must be between 1 and {MAX_PAPERS}.")
    return {
        "frequency": frequency,
        "hour": hour,
        "weekday": weekday,
        "timezone": check_timezone(timezone or settings.get("digest_timezone")),
        "categories": check_categories(categories),
        "searches": check_searches(searches),
        "max_papers": max_papers,
    } | ({} if for_you is None else {"for_you": bool(for_you)})


# -- tokens ----------------------------------------------------------------------


def email_serializer(salt: str) -> URLSafeTimedSerializer:
    """The signer of e-mailed links: the first of `email_token_keys` signs, every one verifies."""
    # itsdangerous signs with the last key of a list and verifies with every one
    keys = list(reversed(settings.email_token_keys()))
    return URLSafeTimedSerializer(keys, salt=salt)


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return email_serializer(f"paperfeed.digest.{purpose}")


def _fingerprint(email: str) -> str:
    return hashlib.sha256(email.lower().encode()).hexdigest()[:12]


def make_token(purpose: str, subscriber_id: int, email: str) -> str:
    return _serializer(purpose).dumps([subscriber_id, _fingerprint(email)])


def _max_age(purpose: str) -> int | None:
    if purpose == "confirm":
        return settings.get_int("confirm_days") * 86400
    if purpose == "manage":
        return MANAGE_DAYS * 86400
    return None  # unsubscribe links never expire


def read_token(engine: Engine, purpose: str, token: str, now: datetime | None = None):
    """The subscriber row a token names; TokenExpired or TokenInvalid otherwise."""
    serializer = _serializer(purpose)
    max_age = _max_age(purpose)
    try:
        if max_age is None:
            payload = serializer.loads(token or "")
        else:
            payload, signed = serializer.loads(token or "", return_timestamp=True)
            if ((now or utcnow()) - signed).total_seconds() > max_age:
                raise TokenExpired(purpose)
    except SignatureExpired as e:
        raise TokenExpired(purpose) from e
    except BadSignature as e:
        raise TokenInvalid(purpose) from e
    if not (isinstance(payload, list) and len(payload) == 2 and isinstance(payload[0], int)):
        raise TokenInvalid(purpose)
    with engine.connect() as conn:
        row = conn.execute(select(subscribers).where(subscribers.c.id == payload[0])).first()
    if row is None or _fingerprint(row.email) != payload[1]:
        raise TokenInvalid(purpose)
    return row


# -- lifecycle -------------------------------------------------------------------


@dataclass
class SubscribeResult:
    subscriber_id: int
    email: str
    status: str  # the status after subscribing
    send_confirmation: bool  # a confirmation email is due (and allowed by the rate limit)
    send_reminder: bool  # already active: may be sent a link to their preferences


def subscribe(
    engine: Engine, email: str, now: datetime | None = None, confirmed: bool = False, **prefs
) -> SubscribeResult:
    """Create or revive a subscription; never says more than `SubscribeResult`.

    A new or unsubscribed address becomes pending (or active when `confirmed`,
    for operators); a pending one is sent its confirmation again, at most once
    every `confirm_resend_minutes`.  Preferences given here apply to new rows
    and to revived ones; an active subscriber's are left alone.
    """
    now = now or utcnow()
    email = normalize_email(email)
    gap = timedelta(minutes=settings.get_int("confirm_resend_minutes"))
    with engine.begin() as conn:
        row = conn.execute(select(subscribers).where(subscribers.c.email == email)).first()
        if row is None:
            values = preferences(**prefs) | {"email": email, "created_at": now, "failures": 0}
            values |= {"status": "active", "confirmed_at": now} if confirmed else {"status": "pending"}
            sid = conn.execute(insert(subscribers).values(**values)).inserted_primary_key[0]
            return _mailable(conn, sid, email, values["status"], None, now, gap, confirmed)
        if row.status == "active":
            if prefs and confirmed:  # an operator changing a subscription
                conn.execute(update(subscribers).where(subscribers.c.id == row.id).values(**preferences(**prefs)))
                return SubscribeResult(row.id, email, "active", False, False)
            return _mailable(conn, row.id, email, "active", row.confirm_sent_at, now, gap, True, reminder=True)
        values = preferences(**prefs) if prefs else {}
        if confirmed:
            values |= {"status": "active", "confirmed_at": now, "failures": 0, "unsubscribed_at": None}
        elif row.status in ("unsubscribed", "paused"):
            values |= {"status": "pending", "created_at": now, "unsubscribed_at": None}
        if values:
            conn.execute(update(subscribers).where(subscribers.c.id == row.id).values(**values))
        status = values.get("status", row.status)
        return _mailable(conn, row.id, email, status, row.confirm_sent_at, now, gap, confirmed)


def _mailable(conn, sid, email, status, last_sent, now, gap, confirmed, reminder=False) -> SubscribeResult:
    """Claim the right to send one confirmation (or reminder) email now, if the rate limit allows."""
    if confirmed and not reminder:
        return SubscribeResult(sid, email, status, False, False)
    if last_sent is not None and now - last_sent < gap:
        return SubscribeResult(sid, email, status, False, False)
    # conditional update: two requests at once cannot both claim the email
    cond = subscribers.c.confirm_sent_at.is_(None)
    if last_sent is not None:
        cond = subscribers.c.confirm_sent_at == last_sent
    claimed = conn.execute(
        update(subscribers).where(subscribers.c.id == sid, cond).values(confirm_sent_at=now)
    ).rowcount
    return SubscribeResult(sid, email, status, bool(claimed) and not reminder, bool(claimed) and reminder)


def confirm(engine: Engine, token: str, now: datetime | None = None):
    """Activate the subscription a confirmation token names; returns the row."""
    now = now or utcnow()
    row = read_token(engine, "confirm", token, now)
    if row.status in ("pending", "paused"):
        with engine.begin() as conn:
            conn.execute(
                update(subscribers)
                .where(subscribers.c.id == row.id)
                .values(status="active", confirmed_at=now, failures=0)
            )
    elif row.status == "unsubscribed":
        raise TokenInvalid("confirm")  # unsubscribing wins over an older confirmation link
    return read_token(engine, "confirm", token, now)


def unsubscribe(engine: Engine, subscriber_id: int, now: datetime | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(subscribers)
            .where(subscribers.c.id == subscriber_id, subscribers.c.status != "unsubscribed")
            .values(status="unsubscribed", unsubscribed_at=now or utcnow())
        )


def update_preferences(engine: Engine, subscriber_id: int, **prefs) -> dict:
    values = preferences(**prefs)
    with engine.begin() as conn:
        conn.execute(update(subscribers).where(subscribers.c.id == subscriber_id).values(**values))
    return values


def purge_unconfirmed(engine: Engine, now: datetime | None = None) -> int:
    """Delete addresses left unconfirmed for twice the confirmation link's lifetime."""
    cutoff = (now or utcnow()) - timedelta(days=2 * settings.get_int("confirm_days"))
    with engine.begin() as conn:
        return conn.execute(
            delete(subscribers).where(subscribers.c.status == "pending", subscribers.c.created_at < cutoff)
        ).rowcount


def find(engine: Engine, email: str):
    with engine.connect() as conn:
        return conn.execute(select(subscribers).where(subscribers.c.email == normalize_email(email))).first()
