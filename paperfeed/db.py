"""
Engine, sessions and migrations: the only module that knows SQLite from PostgreSQL.

SQLite (the embedded default) runs in WAL mode with a busy timeout so readers
never block the writer and a second writer waits instead of failing.  PostgreSQL
is used when `PAPERFEED_DATABASE_URL` says so.  Every command calls `connect()`,
which brings the schema up to date with Alembic before anything reads it.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC
from pathlib import Path

import orjson
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from paperfeed import settings

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 7_046_931_802_174_204  # pg_advisory_xact_lock key held while migrating
# The newest migration's revision (tests/test_migrations.py checks it is Alembic's head): a
# database already there is recognised without loading Alembic and its scripts (~0.3 s per process).
HEAD = "0010"


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def binary_order(engine: Engine, column):
    """`column` for ORDER BY in byte order on both databases.

    PostgreSQL sorts text by locale, which skips punctuation ("math/…" lands
    before "math.AG/…"); the "C" collation gives the byte order SQLite uses.
    """
    return column if is_sqlite(engine) else column.collate("C")


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; safe with WAL
    cur.execute("PRAGMA foreign_keys=ON")
    # checkpoint every ~64 MB of WAL rather than 4 MB: bulk ingests commit often, and each
    # checkpoint is an fsync of the database file (19 ms a commit at the default)
    cur.execute("PRAGMA wal_autocheckpoint=16384")
    cur.close()
    # SQLAlchemy emits BEGIN itself (below), so writers can ask for BEGIN IMMEDIATE
    dbapi_connection.isolation_level = None


def _sqlite_begin(conn) -> None:
    """BEGIN IMMEDIATE for writers: a deferred transaction that reads, then writes, fails
    with SQLITE_BUSY (no waiting) when another connection committed in between."""
    immediate = conn.get_execution_options().get("immediate", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


WRITER_LOCK = 7_046_931_802_174_205  # PostgreSQL advisory lock: one paper writer commits at a time


def writer(engine: Engine):
    """A transaction for read-then-write batches such as the paper upsert.

    SQLite: BEGIN IMMEDIATE takes the write lock up front (waiting up to the busy
    timeout). PostgreSQL: a transaction-scoped advisory lock serialises paper
    writers, so revision numbers (the indexer's cursor) commit in order.
    """
    if is_sqlite(engine):
        return engine.execution_options(immediate=True).begin()
    return _pg_writer(engine)


@contextmanager
def _pg_writer(engine: Engine):
    with engine.begin() as conn:
        conn.execute(text("select pg_advisory_xact_lock(:k)"), {"k": WRITER_LOCK})
        yield conn


def json_text(value) -> str:
    """`value` as the JSON text JSON columns store."""
    return orjson.dumps(value).decode()


def insert_rows(conn, table, columns: tuple[str, ...], rows: list[tuple], json_text: frozenset[str]) -> None:
    """INSERT `rows` (tuples of values in `columns` order) into `table` in one executemany.

    The `json_text` columns come as JSON text (`orjson.dumps`), as SQLAlchemy's JSON
    type would store them.  On SQLite the rows go to the driver directly, after only
    the datetimes are converted: SQLAlchemy's per-value bind processing was a third of
    a bulk ingest's writer time.  The stored text is SQLAlchemy's (tests/test_ingest_bulk.py).
    """
    if not is_sqlite(conn.engine):
        from sqlalchemy import JSON, Text, bindparam, cast

        values = {c: cast(bindparam(c, type_=Text), JSON) for c in columns if c in json_text}
        conn.execute(table.insert().values(values), [dict(zip(columns, r, strict=True)) for r in rows])
        return
    from paperfeed.models import UTCDateTime

    dates = [i for i, name in enumerate(columns) if isinstance(table.c[name].type, UTCDateTime)]
    params = rows
    if dates:
        params = []
        for r in rows:
            r = list(r)
            for i in dates:
                r[i] = _sqlite_datetime(r[i])
            params.append(r)
    names = ", ".join(columns)
    marks = ", ".join("?" * len(columns))
    cursor = conn.connection.cursor()  # the DBAPI cursor, inside `conn`'s transaction
    try:
        cursor.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", params)
    finally:
        cursor.close()


def plain_rows(conn, stmt) -> list[tuple]:
    """The rows of a SELECT as the driver's own tuples, without SQLAlchemy's row objects: for a
    large read of integer and text columns (a digest batch's libraries, ~50,000 rows: 0.40
    against 0.75 ms a reader, benchmarks/RESULTS.md).  Its parameters must be integers (else
    TypeError; not bools), which need no conversion, so they go to the driver as they are, an IN
    list expanded in the SQL.  Runs in `conn`'s transaction, begun here if none is (as `execute` would)."""
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.construct_params()
    if any(type(v) is not int for v in params.values()):
        raise TypeError("plain_rows takes integer parameters only")
    args = tuple(params[name] for name in compiled.positiontup) if compiled.positional else params
    if not conn.in_transaction():
        conn.begin()  # SQLite's BEGIN is SQLAlchemy's to send (`_sqlite_begin`), not the driver's
    cursor = conn.connection.cursor()
    try:
        cursor.execute(str(compiled), args)
        return cursor.fetchall()
    finally:
        cursor.close()


def _sqlite_datetime(value):
    """UTCDateTime's SQLite form: naive UTC, "2007-04-02 19:18:42.000000"."""
    if value is None:
        return None
    if value.tzinfo is not None and value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (  # noqa: UP031 (the fastest way, by a third)
        value.year, value.month, value.day, value.hour, value.minute, value.second, value.microsecond,
    )


def make_engine(url: str) -> Engine:
    json = {"json_serializer": json_text, "json_deserializer": orjson.loads}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **json)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, **json)


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def at_head(engine: Engine) -> bool:
    """Whether the schema is at `HEAD` (one small read; False for a new or older database)."""
    from sqlalchemy import inspect

    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return False
        return conn.execute(text("select version_num from alembic_version")).scalars().all() == [HEAD]


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (a no-op when it is already there)."""
    if at_head(engine):
        return
    from alembic import command

    cfg = alembic_config(str(engine.url.render_as_string(hide_password=False)))
    with engine.begin() as conn:
        if not is_sqlite(engine):
            # web workers and timers start together: one migrates, the others wait
            # here and then find the schema at head (DDL is transactional on PostgreSQL)
            conn.execute(text("select pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


_engines: dict[str, Engine] = {}


def connect(url: str | None = None) -> Engine:
    """The migrated engine for `url` (default: the configured database), one per URL."""
    url = url or settings.database_url()
    if url not in _engines:
        engine = make_engine(url)
        upgrade(engine)
        _engines[url] = engine
    return _engines[url]


def dispose(url: str) -> None:
    """Close the pooled connections of `url`'s engine and forget it."""
    engine = _engines.pop(url, None)
    if engine is not None:
        engine.dispose()


def sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
