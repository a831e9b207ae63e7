"""
Copying a whole paperfeed database to another one (`paperfeed migrate-db`),
typically the SQLite database of a laptop install to the PostgreSQL of a lab
server.

The target is first migrated to head, so both have the same schema; then every
table of `models.Base.metadata` is copied in foreign-key order
(`metadata.sorted_tables`, so a table added later is copied without changing
this file), in batches, through SQLAlchemy's column types (JSON, timezone-aware
datetimes and booleans arrive as the target stores them).  The source is read in
one transaction, a single snapshot; the target is written in one transaction,
so a failed copy leaves it as it was.  PostgreSQL sequences behind integer
primary keys are then moved past the copied ids, or the next insert would
collide.  Finally rows are counted on both sides, table by table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, Integer, Table, delete, func, insert, inspect, select, text
from sqlalchemy.exc import DBAPIError

from paperfeed import db
from paperfeed.models import Base
from paperfeed.ops.backup import row_counts

BATCH = 1_000


class MigrateError(Exception):
    pass


class TargetNotEmpty(MigrateError):
    pass


@dataclass
class TableCopy:
    table: str
    source: int
    target: int

    @property
    def ok(self) -> bool:
        return self.source == self.target


def tables() -> list[Table]:
    """Every paperfeed table, parents before children."""
    return list(Base.metadata.sorted_tables)


def uncopied(engine: Engine) -> list[str]:
    """Tables in the source database that the models do not know (they are not copied)."""
    known = {t.name for t in tables()} | {"alembic_version"}
    return sorted(set(inspect(engine).get_table_names()) - known)


def copy_database(
    source: Engine,
    target: Engine,
    force: bool = False,
    batch_size: int = BATCH,
    echo: Callable[[str], None] = lambda _msg: None,
) -> list[TableCopy]:
    """Copy every row of `source` into `target` (both migrated to head) and compare counts.

    Raises `TargetNotEmpty` when the target holds rows, unless `force`, which
    deletes them first (in the same transaction as the copy).
    """
    held = {t: n for t, n in row_counts(target).items() if n}
    if held and not force:
        listed = ", ".join(f"{t} {n}" for t, n in held.items())
        raise TargetNotEmpty(f"the target database is not empty ({listed}); pass --force to replace its rows")
    copied: dict[str, int] = {}
    with _snapshot(source) as sconn, target.begin() as tconn:
        for table in reversed(tables()):
            if held:
                tconn.execute(delete(table))
        for table in tables():
            copied[table.name] = _copy_table(sconn, tconn, table, batch_size)
            echo(f"{table.name}: {copied[table.name]} rows copied")
        reset_sequences(tconn)
    after = row_counts(target)
    return [TableCopy(name, n, after.get(name, 0)) for name, n in copied.items()]


class _snapshot:
    """A source connection inside one read transaction, so every table comes from the same instant."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def __enter__(self):
        self.conn = self.engine.connect()
        if not db.is_sqlite(self.engine):
            self.conn = self.conn.execution_options(isolation_level="REPEATABLE READ")
        self.conn.begin()  # on SQLite db.py emits a real BEGIN, so the reads are one snapshot
        return self.conn

    def __exit__(self, *exc) -> None:
        self.conn.rollback()  # read only: nothing to keep
        self.conn.close()


def _copy_table(sconn, tconn, table: Table, batch_size: int) -> int:
    order = list(table.primary_key.columns) or list(table.columns)
    result = sconn.execution_options(yield_per=batch_size).execute(select(table).order_by(*order))
    count = 0
    for rows in result.partitions():
        batch = [dict(r._mapping) for r in rows]
        try:
            tconn.execute(insert(table), batch)
        except DBAPIError as e:
            first = {c.name: batch[0][c.name] for c in table.primary_key.columns}
            raise MigrateError(
                f"{table.name}: the target refused a batch starting at {first}: {e.orig}; nothing was copied"
            ) from e
        count += len(batch)
    return count


def reset_sequences(conn) -> None:
    """Move PostgreSQL's sequences behind integer primary keys past the largest id.

    SQLite needs nothing: without AUTOINCREMENT a new rowid is max(rowid) + 1.
    """
    if conn.dialect.name != "postgresql":
        return
    for table in tables():
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or not isinstance(pk[0].type, Integer):
            continue
        sequence = conn.execute(
            text("select pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": pk[0].name}
        ).scalar()
        if sequence is None:
            continue
        largest = conn.execute(select(func.max(pk[0]))).scalar()
        # is_called false: the next nextval() returns exactly this value
        conn.execute(
            text("select setval(cast(:s as regclass), :v, false)"),
            {"s": sequence, "v": (largest or 0) + 1},
        )
