"""
`paperfeed index`: bring the keyword and vector indexes up to date with the database.

Papers are read in the order of their `revision` (the change counter every
ingest batch bumps) and arXiv id, a chunk at a time.  Each chunk is embedded,
added to tantivy (commit), and then its vectors and the cursor (the last
revision and id done) are committed together to the building generation's
catalogue, so a killed run loses at most one chunk: the next run finds
`building/`, reads the cursor and carries on.  Re-applying a chunk is harmless
because tantivy documents are replaced by arXiv id.

When every chunk is in, the vectors are added to the HNSW graph (the previous
generation's graph, loaded, plus the changed papers), the filter arrays are
written, the folder is renamed to `gen-N` and CURRENT is switched to it.  An
incremental run starts its building folder from hard links to the current
generation's tantivy files (tantivy never rewrites a file, only adds new ones)
and a copy of its catalogue.  `rebuild=True` starts from nothing.

The index records the encoder's `model_id`; updating it with another encoder
raises `EncoderMismatch`.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, and_, func, or_, select

from paperfeed import locks, settings
from paperfeed.models import Paper
from paperfeed.search import keyword, store, vectors

Progress = Callable[[str, int, int], None]  # (phase, advance, total)
KEEP_GENERATIONS = 2  # the served one and the one before, still open in slow readers


class IndexBusy(RuntimeError):
    pass


@dataclass
class IndexReport:
    generation: str | None  # the generation now served
    indexed: int  # papers embedded and indexed by this run
    complete: bool  # False: stopped early (max_chunks); rerun to continue
    resumed: bool  # continued an interrupted build
    seconds: float


def _cursor_filter(rev: int, arxiv_id: str | None, upto: int):
    after = Paper.revision > rev
    if arxiv_id is not None:
        after = or_(after, and_(Paper.revision == rev, Paper.arxiv_id > arxiv_id))
    return and_(after, Paper.revision <= upto)


def _link_tree(src: Path, dst: Path) -> None:
    """Hard-link a tantivy folder (its files are immutable), skipping its lock files."""
    dst.mkdir(parents=True)
    for f in src.iterdir():
        if f.is_file() and not f.name.startswith(".tantivy-"):
            try:
                os.link(f, dst / f.name)
            except OSError:  # another filesystem, or links unsupported
                shutil.copy2(f, dst / f.name)


class Build:
    """The `building/` folder: a generation in progress and its cursor."""

    def __init__(self, root: Path) -> None:
        self.folder = root / "building"
        self.conn = store.open_catalog(self.folder / "catalog.sqlite")
        self.conn.executescript(
            "create table if not exists staged (key integer primary key, vector blob not null);"
            "create table if not exists progress (id integer primary key check (id = 1), state text);"
        )

    @property
    def state(self) -> dict | None:
        row = self.conn.execute("select state from progress").fetchone()
        return json.loads(row[0]) if row else None

    def start(self, state: dict) -> None:
        self.conn.execute("insert or replace into progress values (1, ?)", (json.dumps(state),))

    def keys_for(self, ids: list[str]) -> tuple[dict[str, int], set[str]]:
        """Each id's catalogue key, and which ids are new (given the next free keys)."""

        def lookup(wanted: list[str]) -> dict[str, int]:
            out: dict[str, int] = {}
            for start in range(0, len(wanted), 5_000):  # under SQLite's bound-parameter limit
                part = wanted[start : start + 5_000]
                marks = ",".join("?" * len(part))
                out.update(self.conn.execute(f"select arxiv_id, key from docs where arxiv_id in ({marks})", part))
            return out

        with self.conn:  # one transaction: one fsync, not one per paper
            self.conn.execute("begin")
            known = lookup(ids)
            new = [i for i in dict.fromkeys(ids) if i not in known]
            if new:
                self.conn.executemany("insert into docs (arxiv_id) values (?)", [(i,) for i in new])
                known.update(lookup(new))
        return known, set(new)

    def commit_chunk(self, rows: list, keys: dict[str, int], vecs: np.ndarray, state: dict) -> None:
        """Catalogue rows, staged vectors and the cursor, in one transaction."""
        half = vecs.astype(np.float16)
        docs, staged = [], []
        with self.conn:  # BEGIN ... COMMIT (the connection is in autocommit mode otherwise)
            self.conn.execute("begin")
            for row, vec in zip(rows, half, strict=True):
                day = store.day_number(row.published.date()) if row.published else None
                docs.append((day, json.dumps(row.categories or []), keys[row.arxiv_id]))
                staged.append((keys[row.arxiv_id], vec.tobytes()))
            self.conn.executemany("update docs set published = ?, categories = ? where key = ?", docs)
            self.conn.executemany("insert or replace into staged values (?, ?)", staged)
            self.conn.execute("update progress set state = ? where id = 1", (json.dumps(state),))

    def staged(self, batch: int = 50_000):
        last = -1
        while True:
            rows = self.conn.execute(
                "select key, vector from staged where key > ? order by key limit ?", (last, batch)
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            keys = np.array([r[0] for r in rows], np.uint64)
            yield keys, np.frombuffer(b"".join(r[1] for r in rows), np.float16).reshape(len(rows), -1)

    def finish(self) -> None:
        self.conn.executescript("drop table staged; drop table progress; vacuum;")
        store.write_filter_arrays(self.folder, self.conn)
        self.conn.close()


def _switch(root: Path, folder: Path, generation: int) -> str:
    name = f"gen-{generation:06d}"
    os.replace(folder, root / name)
    tmp = root / "CURRENT.tmp"
    with open(tmp, "w") as f:
        f.write(name + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, root / "CURRENT")  # the atomic switch readers see
    dir_fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    old = sorted(p for p in root.glob("gen-*") if p.name != name)
    for stale in old[: max(0, len(old) - (KEEP_GENERATIONS - 1))]:
        shutil.rmtree(stale, ignore_errors=True)
    return name


def update(
    engine: Engine,
    index_dir: Path | str | None = None,
    encoder=None,
    rebuild: bool = False,
    chunk_size: int | None = None,
    max_chunks: int | None = None,
    progress: Progress | None = None,
) -> IndexReport:
    """Index every paper changed since the served generation (all of them with `rebuild`)."""
    from paperfeed.search.encoder import document_text, get_encoder

    started = time.perf_counter()
    root = store.index_root(index_dir)
    root.mkdir(parents=True, exist_ok=True)
    chunk_size = chunk_size or int(settings.get("index_chunk_size"))
    try:
        lock = locks.file_lock(root / "lock", "index")
    except locks.JobLocked:
        raise IndexBusy(f"another `paperfeed index` is updating {root}") from None
    try:
        encoder = encoder or get_encoder()
        served = store.current_name(root)
        served_meta = store.Meta.read(root / served) if served else None
        building = root / "building"
        state = None
        if (building / "catalog.sqlite").exists() and not rebuild:
            probe = Build(root)
            state = probe.state
            probe.conn.close()
        # An interrupted build continues if it was made by this encoder and either
        # starts from scratch (a rebuild) or from the generation still served.
        if state is not None and state["model_id"] == encoder.model_id and (
            state["base"] is None or (served_meta and state["base"] == served_meta.generation)
        ):
            base = served_meta if state["base"] is not None else None
        else:
            state = None
            shutil.rmtree(building, ignore_errors=True)
            base = None if rebuild else served_meta
            if base is not None:
                vectors.check_model(base.model_id, encoder.model_id)
        with engine.connect() as conn:
            upto = conn.scalar(select(func.max(Paper.revision))) or 0
        if state is None:
            start_rev = base.revision if base else -1
            with engine.connect() as conn:
                pending = conn.scalar(
                    select(func.count()).select_from(Paper).where(_cursor_filter(start_rev, None, upto))
                )
            if base is not None and not pending:
                return IndexReport(served, 0, True, False, time.perf_counter() - started)
            building.mkdir()
            if base is not None:
                _link_tree(root / served / "keyword", building / "keyword")
                shutil.copy2(root / served / "catalog.sqlite", building / "catalog.sqlite")
            state = {
                "base": base.generation if base else None,
                "model_id": encoder.model_id,
                "dim": int(encoder.dim),
                "dtype": vectors.storage_dtype(settings.get("vector_dtype")),
                "rev": start_rev,
                "id": None,
                "upto": upto,
                "done": 0,
            }
            Build(root).start(state)
            resumed = False
        else:
            state["upto"] = max(state["upto"], upto)
            resumed = True
        build = Build(root)
        with engine.connect() as conn:
            total = state["done"] + conn.scalar(
                select(func.count()).select_from(Paper).where(_cursor_filter(state["rev"], state["id"], state["upto"]))
            )
        if progress:
            progress("embed", state["done"], total)
        index = keyword.open_index(building / "keyword")
        writer = index.writer(keyword.WRITER_HEAP)
        indexed = chunks = 0
        columns = (Paper.arxiv_id, Paper.revision, Paper.title, Paper.abstract, Paper.authors,
                   Paper.categories, Paper.published)
        while max_chunks is None or chunks < max_chunks:
            with engine.connect() as conn:
                rows = conn.execute(
                    select(*columns)
                    .where(_cursor_filter(state["rev"], state["id"], state["upto"]))
                    .order_by(Paper.revision, Paper.arxiv_id)
                    .limit(chunk_size)
                ).all()
            if not rows:
                break
            keys, new = build.keys_for([r.arxiv_id for r in rows])
            vecs = encoder.encode_documents([document_text(r.title, r.abstract) for r in rows])
            for r in rows:
                if r.arxiv_id not in new:  # a changed paper, or a chunk re-applied after a kill
                    writer.delete_documents_by_term("arxiv_id", r.arxiv_id)
                writer.add_document(keyword.document(
                    keys[r.arxiv_id], r.arxiv_id, r.title, r.abstract, r.authors, r.categories, r.published
                ))
            writer.commit()
            state.update(rev=rows[-1].revision, id=rows[-1].arxiv_id, done=state["done"] + len(rows))
            build.commit_chunk(rows, keys, vecs, state)
            indexed += len(rows)
            chunks += 1
            if progress:
                progress("embed", len(rows), total)
        writer.wait_merging_threads()
        if max_chunks is not None and chunks >= max_chunks and state["done"] < total:
            return IndexReport(served, indexed, False, resumed, time.perf_counter() - started)
        return _finish(root, build, state, base, indexed, resumed, started, progress)
    finally:
        lock.close()


def _finish(root, build, state, base, indexed, resumed, started, progress) -> IndexReport:
    """Graph, filter arrays, meta; then the switch."""
    folder = build.folder
    staged = build.conn.execute("select count(*) from staged").fetchone()[0]
    if base is not None:
        graph = vectors.load(root / f"gen-{base.generation:06d}" / "vectors.usearch",
                             base.dim, base.dtype, view=False)
    else:
        graph = vectors.new_index(state["dim"], state["dtype"])
    count = build.conn.execute("select count(*) from docs").fetchone()[0]
    size = (build.conn.execute("select max(key) from docs").fetchone()[0] or 0) + 1
    base_folder = root / f"gen-{base.generation:06d}" if base is not None else None
    matrix = vectors.MatrixWriter(folder, graph, size, base_folder)
    if progress:
        progress("graph", 0, staged)
    for keys, vecs in build.staged():  # one pass over the staged vectors feeds both
        vectors.upsert(graph, keys, vecs)
        matrix.put(keys, vecs)
        if progress:
            progress("graph", len(keys), staged)
    matrix.close()
    vectors.save(graph, folder / "vectors.usearch")
    build.finish()
    generation = (base.generation if base else _last_generation(root)) + 1
    store.Meta(generation, state["model_id"], state["dim"], state["dtype"], state["upto"], count).write(folder)
    name = _switch(root, folder, generation)
    return IndexReport(name, indexed, True, resumed, time.perf_counter() - started)


def _last_generation(root: Path) -> int:
    numbers = [int(p.name.split("-")[1]) for p in root.glob("gen-*") if p.name.split("-")[1].isdigit()]
    return max(numbers, default=0)

