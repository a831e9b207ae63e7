"""
The `paperfeed index` and `paperfeed search` commands (registered in paperfeed/cli.py).

This module imports only click and the search package's face: the engine
(numpy, tantivy, usearch, the embedding model) loads inside the commands, so
`paperfeed --help` stays fast and every other command works in an install
without the `search` extra.  There, these two exit with status 2 and one line
saying to install `paperfeed[search]`.
"""

from __future__ import annotations

import importlib
import json
import sys
from datetime import date

import click

from paperfeed.search.errors import missing_extra
from paperfeed.search.results import MODES

EXIT_NOT_INSTALLED = 2


def _engine(module: str):
    """`paperfeed.search.<module>`, or exit 2 with the install hint when the extra is missing."""
    try:
        return importlib.import_module(f"paperfeed.search.{module}")
    except ModuleNotFoundError as exc:
        if (exc.name or "").startswith("paperfeed"):
            raise  # our own module missing is a bug, not an install without the extra
        click.echo(f"Error: {missing_extra(exc)}", err=True)
        sys.exit(EXIT_NOT_INSTALLED)


def _date(_ctx, _param, value: str | None) -> date | None:
    if value is None:
        return None
    from paperfeed.search.query import parse_date

    parsed = parse_date(value)
    if parsed is None:
        raise click.BadParameter("expected YYYY, YYYY-MM or YYYY-MM-DD")
    return parsed


@click.command("index")
@click.option("--rebuild", is_flag=True, help="Discard the indexes (and any interrupted build) and re-embed every paper.")
@click.option("--chunk-size", type=click.IntRange(1), default=None,
              help="Papers embedded and committed per step (default PAPERFEED_INDEX_CHUNK_SIZE).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default=None,
              help="Where the embedding model runs (default PAPERFEED_EMBEDDING_DEVICE).")
def index_command(rebuild: bool, chunk_size: int | None, device: str | None) -> None:
    """Build or update the keyword and vector search indexes from the database.

    Only papers changed since the last run are embedded, and get their key
    terms; papers that have none (after an upgrade) get them too.  A killed run
    continues where it stopped when run again; the server keeps answering from
    the previous index until the new one is complete.  Exit status 0 when the
    index is up to date.

    Example: paperfeed index
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    indexer = _engine("indexer")
    encoders = _engine("encoder")
    from paperfeed import db, locks
    from paperfeed.search.errors import EncoderError, EncoderMismatch, IndexBusy

    engine = db.connect()
    labels = {"embed": "Embedding papers", "graph": "Building vector graph", "terms": "Key terms",
              "term rows": "Term rows of older papers",
              "older terms": "Key terms of older papers"}
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        transient=False, console=None,
    ) as bar:
        tasks: dict[str, int] = {}

        def progress(phase: str, advance: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(labels.get(phase, phase), total=total)
            bar.update(tasks[phase], advance=advance, total=total)

        try:
            report = indexer.update(
                engine, encoder=encoders.get_encoder(device=device) if device else None,
                rebuild=rebuild, chunk_size=chunk_size, progress=progress,
            )
        except IndexBusy as exc:  # not a failure: a timer's second copy exits 75, as every job does
            click.echo(f"Error: {exc}", err=True)
            sys.exit(locks.EXIT_LOCKED)
        except (EncoderMismatch, EncoderError) as exc:
            raise click.ClickException(str(exc)) from exc
    if report.terms_filled:
        click.echo(f"key terms for {report.terms_filled} papers that had none")
    if report.indexed == 0 and report.complete:
        click.echo(f"index {report.generation} is up to date")
    else:
        what = "resumed and indexed" if report.resumed else "indexed"
        click.echo(f"{what} {report.indexed} papers in {report.seconds:.1f}s; serving {report.generation}")


@click.command("search")
@click.argument("query")
@click.option("--limit", "-n", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True)
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True)
@click.option("--category", "-c", multiple=True, help="Only these categories (cs.LG; cs for all of cs.*).")
@click.option("--after", callback=_date, help="Published on or after this date.")
@click.option("--before", callback=_date, help="Published before this date.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per result.")
def search_command(query: str, limit: int, offset: int, mode: str, category: tuple[str, ...],
                   after: date | None, before: date | None, as_json: bool) -> None:
    """Search the indexed papers; prints one result per line, arXiv id first.

    QUERY accepts words, "quoted phrases", author:NAME, cat:CATEGORY,
    after:YYYY-MM-DD, before:YYYY-MM-DD and -excluded words.

    Example: paperfeed search '"state space model" cat:cs.LG after:2023' --limit 5
    """
    pipeline = _engine("pipeline")
    from paperfeed import db
    from paperfeed.search.errors import EncoderError, EncoderMismatch, IndexNotBuilt

    try:
        page = pipeline.search(db.connect(), query, mode=mode, limit=limit, offset=offset,
                      category=list(category) or None, after=after, before=before)
    except (IndexNotBuilt, EncoderMismatch, EncoderError) as exc:
        raise click.ClickException(str(exc)) from exc
    for hit in page.hits:
        if as_json:
            click.echo(json.dumps({
                "arxiv_id": hit.arxiv_id, "score": round(hit.score, 6), "title": hit.title,
                "authors": hit.authors, "categories": hit.categories,
                "published": hit.published.isoformat() if hit.published else None,
            }, ensure_ascii=False))
        else:
            day = hit.published.date().isoformat() if hit.published else "----------"
            click.echo(f"{hit.arxiv_id}\t{day}\t{hit.score:.4f}\t{' '.join(hit.title.split())}")
    if not as_json:
        shown = f"{offset + 1}-{offset + len(page.hits)}" if page.hits else "0"
        click.echo(f"({shown} of {page.total} results, {mode})", err=True)
    sys.stdout.flush()
