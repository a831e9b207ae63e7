"""
Running an ingest: stream records from a source into the database in batches,
report rejects, show progress, and sum up.

Every rejected record is printed (the first few) and appended to
`<data_dir>/rejects.jsonl` with its source, location and reason; every text
repaired (`repairs`: mojibake fixed with ftfy) to `<data_dir>/repairs.jsonl`.  The exit
status convention is 0 all ingested, 1 some rejected, 2 nothing readable.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from paperfeed import settings
from paperfeed.ingest.records import PaperRecord, Reject
from paperfeed.ingest.repairs import AppendLog, Repair, RepairLog, repair_record
from paperfeed.ingest.upsert import Counts, Staged, write_batch

SHOWN_REJECTS = 20
log = logging.getLogger("paperfeed.ingest")


@dataclass
class Checkpoint:
    """Yielded by a live source between records: the runner writes every record
    yielded before it, then calls `commit` (an OAI-PMH harvest saves its
    resumption token there, so a rerun resumes only after work that is stored)."""

    commit: Callable[[], None]


@dataclass
class Summary(Counts):
    read: int = 0
    rejected: int = 0
    repaired: int = 0  # texts whose mojibake was fixed (repairs.jsonl)
    failed_inputs: list[str] = field(default_factory=list)

    @property
    def exit_status(self) -> int:
        if self.read == 0 and (self.rejected or self.failed_inputs):
            return 2
        return 1 if self.rejected or self.failed_inputs else 0

    def line(self) -> str:
        out = (
            f"read {self.read}, new {self.new}, updated {self.updated}, "
            f"unchanged {self.unchanged}, rejected {self.rejected}"
        )
        if self.daily_entries:
            out += f", daily entries {self.daily_entries}"
        if self.repaired:
            out += f", repaired {self.repaired}"
        return out


class RejectLog(AppendLog):
    """Appends rejects to the data directory's rejects file and echoes the first few."""

    def __init__(self, path: Path | None = None, echo: Callable[[str], None] | None = None):
        super().__init__(path or settings.data_dir() / "rejects.jsonl")
        self.echo = echo or (lambda msg: print(msg, file=sys.stderr))

    def add(self, reject: Reject) -> None:
        if self.count < SHOWN_REJECTS:
            self.echo(f"rejected: {reject}")
        elif self.count == SHOWN_REJECTS:
            self.echo(f"(more rejects: see {self.path})")
        self.write({"source": reject.source, "location": reject.location,
                    "reason": reject.reason, "excerpt": reject.excerpt})


def ingest(
    items: Iterable[PaperRecord | Staged | Reject | Repair | Checkpoint],
    engine: Engine,
    rejects: RejectLog,
    summary: Summary,
    origin: str,
    batch_size: int | None = None,
    on_batch: Callable[[], None] | None = None,
    repairs: RepairLog | None = None,
) -> Summary:
    """Write the good records of `items` in batches (their mojibake repaired); log the bad ones."""
    batch_size = batch_size or settings.get_int("batch_size")
    batch: list[PaperRecord | Staged] = []
    repair_log = repairs or RepairLog()

    def repaired(repair: Repair) -> None:
        summary.repaired += 1
        repair_log.add(repair)

    def flush() -> None:
        if batch:
            summary.add(write_batch(engine, batch))
            batch.clear()
        if on_batch:
            on_batch()

    def take(item: PaperRecord | Staged | Reject | Checkpoint) -> None:
        if isinstance(item, Checkpoint):
            flush()
            item.commit()
        elif isinstance(item, Reject):
            summary.rejected += 1
            rejects.add(item)
        elif isinstance(item, Repair):  # made by a reader process (prefetch.py)
            repaired(item)
        elif isinstance(item, PaperRecord) and (reject := item.check(origin)):
            summary.rejected += 1
            rejects.add(reject)
        else:
            if isinstance(item, PaperRecord):
                for repair in repair_record(item):
                    repaired(repair)  # a good record, or one the reader process checked and staged (prefetch.py)
            summary.read += 1
            batch.append(item)
            if len(batch) >= batch_size:
                flush()

    try:
        for item in items:
            take(item)
    except (OSError, ValueError):
        flush()  # the source broke mid-stream: keep what it gave before the break
        raise
    finally:
        if repairs is None:
            repair_log.close()
    flush()
    return summary


def _progress():
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[records]} records"),
        console=Console(stderr=True),
        transient=True,
    )


def ingest_sources(
    sources: list[str], fmt: str | None = None, batch_size: int | None = None, engine: Engine | None = None
) -> Summary:
    """Ingest each file or URL in turn; a source that cannot be opened is reported and skipped."""
    from paperfeed import db
    from paperfeed.ingest import formats, prefetch

    engine = engine or db.connect()
    summary = Summary()
    rejects = RejectLog()
    repairs = RepairLog()
    try:
        with _progress() as progress:
            for source in sources:
                name = source if len(source) < 40 else "…" + source[-39:]
                try:
                    if formats.is_url(source):
                        task = progress.add_task(name, total=None, records=0)
                        items = formats.records(source, fmt, None)
                        _run_one(items, engine, rejects, repairs, summary, source, batch_size, progress, task, lambda: None)
                    elif prefetch.worth_it(path := Path(source)):
                        task = progress.add_task(name, total=path.stat().st_size, records=0)
                        reader = prefetch.ChildReader(source, fmt)
                        _run_one(reader, engine, rejects, repairs, summary, source, batch_size, progress, task, lambda r=reader: r.position)
                    else:
                        task = progress.add_task(name, total=path.stat().st_size, records=0)
                        with formats.open_file(path) as f:
                            items = formats.records(source, fmt, f)
                            _run_one(items, engine, rejects, repairs, summary, source, batch_size, progress, task, lambda f=f: formats.position(f))
                except (OSError, formats.UnknownFormat) as e:
                    summary.failed_inputs.append(source)
                    rejects.add(Reject(source, "file", _readable(e)))
    finally:
        rejects.close()
        repairs.close()
    record_run(engine, summary)
    return summary


LAST_RUN_KEY = "ingest:last_run"


def record_run(engine: Engine, summary: Summary) -> None:
    """Note in `job_state` when an ingest finished and what it did (`/metrics` reports it)."""
    from sqlalchemy import insert, update
    from sqlalchemy.exc import SQLAlchemyError

    from paperfeed.models import JobState

    jobs = JobState.__table__
    value = {"read": summary.read, "new": summary.new, "updated": summary.updated,
             "unchanged": summary.unchanged, "rejected": summary.rejected, "repaired": summary.repaired}
    values = {"value": value, "updated_at": datetime.now(UTC)}
    try:
        with engine.begin() as conn:
            if not conn.execute(update(jobs).where(jobs.c.key == LAST_RUN_KEY).values(**values)).rowcount:
                conn.execute(insert(jobs).values(key=LAST_RUN_KEY, **values))
    except SQLAlchemyError:  # two ingests finishing at once, a lost connection: only the note is lost
        log.warning("could not record the ingest run in job_state", exc_info=True)


def _run_one(items, engine, rejects, repairs, summary, source, batch_size, progress, task, position) -> None:
    def on_batch() -> None:
        progress.update(task, completed=position(), records=summary.read + summary.rejected)

    ingest(items, engine, rejects, summary, source, batch_size, on_batch, repairs)


def _readable(e: Exception) -> str:
    if isinstance(e, FileNotFoundError):
        return "no such file"
    if isinstance(e, IsADirectoryError):
        return "is a directory"
    if isinstance(e, PermissionError):
        return "permission denied"
    return str(e) or type(e).__name__
