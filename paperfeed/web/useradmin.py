"""
An operator's changes to existing accounts: a new password, a role, disabling,
enabling and deleting (the `paperfeed user …` commands call these).

Every change that takes something away ends the user's sessions in every
browser (`accounts.end_sessions` bumps `users.session_epoch`), so a stolen or
forgotten cookie does not outlive a new password, a lower role or a disabled
account.  Deleting leaves the rest to the database's foreign keys: votes and
the reader's library go with the user, a daily entry keeps its paper and loses
its submitter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine, func, select

from paperfeed.models import Base
from paperfeed.web.accounts import (
    MIN_PASSWORD,
    ROLES,
    AccountError,
    end_sessions,
    hash_password,
    users,
)


@dataclass
class Deleted:
    """What went with a deleted user: rows removed and rows kept without them, per table."""

    user_id: int
    removed: dict[str, int] = field(default_factory=dict)
    unlinked: dict[str, int] = field(default_factory=dict)


def find(conn, username: str):
    """The user row named `username` (any case); AccountError when there is none."""
    row = conn.execute(
        select(users).where(func.lower(users.c.username) == username.strip().lower())
    ).first()
    if row is None:
        raise AccountError(f"There is no user named {username!r}.")
    return row


def set_password(engine: Engine, username: str, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"Passwords need at least {MIN_PASSWORD} characters.")
    hashed = hash_password(password)  # slow on purpose: outside the transaction
    with engine.begin() as conn:
        row = find(conn, username)
        conn.execute(users.update().where(users.c.id == row.id).values(password_hash=hashed))
        end_sessions(conn, row.id)


def set_role(engine: Engine, username: str, role: str) -> bool:
    """Give `username` `role`; False when they already had it (nothing changes then)."""
    if role not in ROLES:
        raise AccountError(f"Role must be one of {', '.join(ROLES)}.")
    with engine.begin() as conn:
        row = find(conn, username)
        if row.role == role:
            return False
        conn.execute(users.update().where(users.c.id == row.id).values(role=role))
        end_sessions(conn, row.id)  # a page open as admin must not keep admin powers
        return True


def disable(engine: Engine, username: str) -> bool:
    """Stop `username` signing in and end their sessions; False when already disabled."""
    with engine.begin() as conn:
        row = find(conn, username)
        if row.disabled_at is not None:
            return False
        conn.execute(users.update().where(users.c.id == row.id).values(disabled_at=datetime.now(UTC)))
        end_sessions(conn, row.id)
        return True


def enable(engine: Engine, username: str) -> bool:
    """Let a disabled user sign in again (with a new session); False when not disabled."""
    with engine.begin() as conn:
        row = find(conn, username)
        if row.disabled_at is None:
            return False
        conn.execute(users.update().where(users.c.id == row.id).values(disabled_at=None))
        end_sessions(conn, row.id)  # sessions from before the disable stay ended
        return True


def _references() -> list[tuple]:
    """(table, column, ondelete) for every column that points at users.id."""
    found = []
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column is users.c.id:
                found.append((table, fk.parent, (fk.ondelete or "").upper()))
    return found


def delete(engine: Engine, username: str) -> Deleted:
    """Delete `username`; the foreign keys cascade (counted first, for the operator)."""
    with engine.begin() as conn:
        row = find(conn, username)
        deleted = Deleted(row.id)
        for table, column, ondelete in _references():
            count = conn.execute(select(func.count()).select_from(table).where(column == row.id)).scalar_one()
            if count:
                kept = deleted.unlinked if ondelete == "SET NULL" else deleted.removed
                kept[table.name] = kept.get(table.name, 0) + count
        conn.execute(users.delete().where(users.c.id == row.id))
        return deleted
