"""
`paperfeed library import USER FILE` and `paperfeed library export USER`: a
reader's library to and from BibTeX, CSV and JSON on the command line.

Import exit statuses are those of `paperfeed ingest`: 0 every entry imported,
1 some not (each is listed with its key and why), 2 nothing imported or
readable (also an unknown user).  The command line fetches any number of
unknown arXiv ids unless `--fetch-limit` says otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

SHOWN = 200  # entries listed on standard error; the summary counts them all


def _user_id(conn, username: str) -> int:
    from sqlalchemy import select

    from paperfeed.models import User

    found = conn.execute(select(User.id).where(User.username == username)).scalar()
    if found is None:
        click.echo(f"error: no user {username!r} (paperfeed user create makes one)", err=True)
        sys.exit(2)
    return found


@click.group("library")
def library() -> None:
    """A reader's saved papers: import them from Zotero, Mendeley or JabRef, export them.

    Example: paperfeed library import ada "My Library.bib"
    """


@library.command("import")
@click.argument("user")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--collection", metavar="NAME", help="Put the papers in this collection (made if missing) instead of the Reading list.")
@click.option("--fetch-limit", type=click.IntRange(min=0), metavar="N", help="Fetch at most N unknown papers from arXiv (default: all).")
@click.option("--format", "fmt", type=click.Choice(["bibtex", "csv", "json", "ids"]), help="Input format; detected when omitted.")
def import_command(user: str, file: Path, collection: str | None, fetch_limit: int | None, fmt: str | None) -> None:
    """Import a BibTeX, CSV or JSON file, or a list of arXiv ids, into USER's library.

    Entries are matched by arXiv id (eprint, arxivid, url, note, number, journal,
    arXiv DOI), else by exact title against stored papers; ids not stored are
    fetched from the arXiv API.  Every entry not imported is listed with its key
    and why.  Nothing already saved is lost.  Exit status: 0 all imported, 1
    some entries not imported, 2 nothing imported or readable.

    Example: paperfeed library import ada zotero-export.bib --collection "Thesis"
    """
    from paperfeed import db
    from paperfeed.library.importer import import_file

    engine = db.connect()
    with engine.connect() as conn:
        user_id = _user_id(conn, user)
    report = import_file(engine, user_id, file, fmt=fmt, collection=collection, fetch_limit=fetch_limit)
    for outcome in report.not_imported[:SHOWN]:
        click.echo(outcome.line(), err=True)
    if len(report.not_imported) > SHOWN:
        click.echo(f"(and {len(report.not_imported) - SHOWN} more not imported)", err=True)
    click.echo(report.summary())
    sys.exit(report.exit_status)


@library.command("export")
@click.argument("user")
@click.option("--collection", metavar="NAME", help="Only this collection (its name or slug).")
@click.option("--format", "fmt", type=click.Choice(["bibtex", "csv", "json"]), default="bibtex", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="File to write (standard output when omitted).")
def export_command(user: str, collection: str | None, fmt: str, output: Path | None) -> None:
    """Write USER's library, or one collection, as BibTeX, CSV or JSON.

    BibTeX names each paper's collections in `keywords` and re-imports to the
    same library; JSON keeps everything (descriptions, notes, dates) exactly.

    Example: paperfeed library export ada --format json --output ada-library.json
    """
    from paperfeed import db
    from paperfeed.library.errors import LibraryError
    from paperfeed.library.exporter import export_library

    engine = db.connect()
    with engine.connect() as conn:
        user_id = _user_id(conn, user)
        try:
            text = export_library(conn, user_id, fmt, collection)
        except LibraryError as e:
            click.echo(f"error: {e}: {collection!r}", err=True)
            sys.exit(2)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
