"""
`paperfeed demo`: a fresh data directory loaded with the bundled sample papers
(real arXiv and Hugging Face metadata shipped in `paperfeed/data/`), then the site.

The directory is marked as a demo directory, so a later `paperfeed demo`
may wipe and recreate it, while a directory that holds anything else is never
touched.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import click

SAMPLES = Path(__file__).parents[1] / "data"  # paperfeed/data, shipped as package data
MARKER = ".paperfeed-demo"


def sample_files() -> list[Path]:
    """The bundled corpus, the Kaggle snapshot first so richer records land before partial ones."""
    files = [p for p in SAMPLES.iterdir() if p.is_file() and p.suffix in (".jsonl", ".json", ".xml")]
    return sorted(files, key=lambda p: (not p.name.startswith("arxiv-kaggle"), p.name))


def fresh_directory(path: Path) -> None:
    if path.exists() and any(path.iterdir()):
        if not (path / MARKER).exists():
            raise click.ClickException(
                f"{path} exists and is not a paperfeed demo directory; pick another with --data-dir"
            )
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / MARKER).write_text("created by `paperfeed demo`; safe to delete\n")


def run_demo(data_dir: Path, host: str, port: int, serve: bool) -> int:
    from paperfeed import db
    from paperfeed.ingest.run import ingest_sources
    from paperfeed.ops.stats import collect, render
    from paperfeed.web.app import serve as serve_site

    fresh_directory(data_dir)
    os.environ["PAPERFEED_DATA_DIR"] = str(data_dir)
    os.environ["PAPERFEED_DATABASE_URL"] = ""  # the demo is the embedded default: SQLite
    engine = db.connect()
    summary = ingest_sources([str(p) for p in sample_files()], engine=engine)
    click.echo(f"sample corpus: {summary.line()}")
    if summary.exit_status:
        click.echo("the bundled sample had rejects: see rejects.jsonl in the data directory", err=True)
        return summary.exit_status
    try:
        from paperfeed.search import update_index
    except ImportError as e:  # installed without the [search] extra: the site falls back to substring search
        click.echo(f"no search index ({e.name} is not installed: pip install 'paperfeed[search]')", err=True)
    else:
        update_index(engine)
    click.echo(render(collect(engine)))
    click.echo(f"data directory: {data_dir.resolve()}")
    if serve:
        click.echo(f"serving on http://{host}:{port}/")
        serve_site(host=host, port=port)
    return 0
