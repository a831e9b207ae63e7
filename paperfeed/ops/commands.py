"""
Commands for operators (registered in paperfeed/cli.py): `paperfeed backup`,
`paperfeed restore`, `paperfeed migrate-db`, `paperfeed export`, `paperfeed
stats` and `paperfeed demo`.  docs/operations.md explains when to use them;
their exit statuses are listed in each command's help.  Heavy imports stay
inside the commands so `paperfeed --help` is instant.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("backup")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path), help="File to write (a SQLite database, or a pg_dump custom-format archive).")
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
def backup_command(output: Path, force: bool) -> None:
    """Write a consistent backup of the database while the site keeps running.

    SQLite: the online backup API (one snapshot, writers carry on).
    PostgreSQL: pg_dump --format=custom (install the client of the server's
    major version; without it the command to run is printed).  The search
    indexes are not included (`paperfeed index --rebuild` remakes them), nor is
    <data_dir>/secret_key: copy it too.  Exit status: 0 written, 1 failed.

    Example: paperfeed backup --output /var/backups/paperfeed/paperfeed-2026-11-22.db
    """
    from paperfeed import db
    from paperfeed.ops.backup import BackupError, backup

    try:
        result = backup(db.connect(), output, force=force)
    except BackupError as e:
        click.echo(f"paperfeed backup: {e}", err=True)
        sys.exit(1)
    click.echo(result.line("wrote"))


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database that already holds rows.")
def restore_command(path: Path, force: bool) -> None:
    """Restore a backup made by `paperfeed backup` into the configured database.

    A SQLite backup goes into the configured SQLite database (by default
    <data_dir>/paperfeed.db), a pg_dump archive into the configured PostgreSQL
    database (with pg_restore, in one transaction).  A database that holds any
    row is refused unless --force.  The schema is then migrated to head.  Stop
    the web workers and timers first.  Exit status: 0 restored, 1 failed or
    refused, 75 an ingest is running.

    Example: paperfeed restore /var/backups/paperfeed/paperfeed-2026-11-22.db
    """
    from paperfeed import db, settings
    from paperfeed.locks import EXIT_LOCKED, JobLocked, job_lock
    from paperfeed.ops.backup import BackupError, restore

    url = settings.database_url()
    lock_engine = db.make_engine(url)  # not migrated: the restore decides what the schema becomes
    try:
        # keeps a timer's ingest from writing into a half-restored database
        with job_lock("ingest", lock_engine):
            result = restore(url, path, force=force)
    except JobLocked as e:
        click.echo(f"paperfeed restore: {e}", err=True)
        sys.exit(EXIT_LOCKED)
    except BackupError as e:
        click.echo(f"paperfeed restore: {e}", err=True)
        sys.exit(1)
    finally:
        lock_engine.dispose()
    click.echo(result.line("restored"))


@click.command("migrate-db")
@click.option("--to", "target", required=True, metavar="URL", help="SQLAlchemy URL of the database to fill, e.g. postgresql+psycopg://paperfeed@localhost/paperfeed.")
@click.option("--force", is_flag=True, help="Delete the target's rows first when it is not empty.")
@click.option("--batch-size", type=click.IntRange(1), default=1000, show_default=True, help="Rows per INSERT batch.")
def migrate_db(target: str, force: bool, batch_size: int) -> None:
    """Copy every table of the configured database into another one (SQLite to PostgreSQL).

    The target is migrated to head first and must be empty (or --force).  Rows
    are copied in foreign-key order, in one transaction; PostgreSQL sequences
    are moved past the copied ids; row counts are compared table by table.
    Stop the web workers and timers first: rows written during the copy would
    be missed.  Then point PAPERFEED_DATABASE_URL at the target.  Exit status:
    0 copied and verified, 1 failed, refused or counts differ, 75 an ingest is running.

    \b
    Example: paperfeed migrate-db --to postgresql+psycopg://paperfeed@localhost/paperfeed
    """
    from sqlalchemy.exc import SQLAlchemyError

    from paperfeed import db, settings
    from paperfeed.locks import job_lock_or_exit
    from paperfeed.ops.migrate import MigrateError, copy_database, uncopied

    if target == settings.database_url():
        raise click.UsageError("--to is the configured database itself")
    source = db.connect()
    try:
        destination = db.connect(target)
    except (SQLAlchemyError, ImportError) as e:
        click.echo(f"paperfeed migrate-db: cannot open or migrate the target: {e}", err=True)
        sys.exit(1)
    for name in uncopied(source):
        click.echo(f"not copied (unknown to this paperfeed): table {name}", err=True)
    with job_lock_or_exit("ingest", source):
        try:
            copies = copy_database(source, destination, force=force, batch_size=batch_size, echo=lambda m: click.echo(m, err=True))
        except MigrateError as e:
            click.echo(f"paperfeed migrate-db: {e}", err=True)
            sys.exit(1)
    width = max(len(c.table) for c in copies)
    for c in copies:
        click.echo(f"{c.table:<{width}}  {c.source:>9} → {c.target:>9}  {'ok' if c.ok else 'MISMATCH'}")
    if not all(c.ok for c in copies):
        click.echo("paperfeed migrate-db: row counts differ (was something writing to the target?)", err=True)
        sys.exit(1)
    click.echo(f"copied {sum(c.source for c in copies)} rows in {len(copies)} tables; "
               f"now set PAPERFEED_DATABASE_URL={destination.url.render_as_string(hide_password=True)}")


@click.command()
def stats() -> None:
    """Show what the database holds: papers, daily entries, users, votes, categories.

    Example: paperfeed stats
    """
    from paperfeed.ops.stats import collect, render

    click.echo(render(collect()))


@click.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "parquet"]), default="jsonl", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="File to write (JSON lines on standard output when omitted).")
def export(fmt: str, output: Path | None) -> None:
    """Write every stored paper, one record per paper, readable back by `paperfeed ingest`.

    Prints per-column statistics (type, count, min/max length) to standard error.

    Example: paperfeed export --format parquet --output papers.parquet
    """
    from paperfeed.ops.export import export_papers

    if fmt == "parquet" and output is None:
        raise click.UsageError("--format parquet needs --output FILE")
    column_stats = export_papers(fmt, output)
    click.echo(column_stats, err=True)


@click.command()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("paperfeed-demo"), show_default=True, help="Directory to (re)create for the demo.")
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--no-serve", is_flag=True, help="Load the sample corpus and exit without serving.")
def demo(data_dir: Path, port: int, host: str, no_serve: bool) -> None:
    """Load the bundled sample papers into a fresh data directory and show them.

    Example: paperfeed demo --port 8000
    """
    from paperfeed.ops.demo import run_demo

    sys.exit(run_demo(data_dir, host=host, port=port, serve=not no_serve))
