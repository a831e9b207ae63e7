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

When every chunk is in, the build's papers get their key terms (`key_terms`,
weighed by document frequencies in the finished keyword index) in
`papers.key_terms`, before the switch; a build killed then does them again.
After the switch, papers that still have none get theirs from the served
index: the papers stored before key terms existed, once, after the upgrade.

Every chunk also gets its tf-idf rows in the generation's term space
(`term_rows`: fitted on the newest papers when the base has none, else the
base's, linked), and before the switch the papers of the catalogue without a
row get one, so "For you" reads rows instead of re-tokenising texts.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, and_, bindparam, func, or_, select, true

from paperfeed import locks, settings
from paperfeed.models import Paper
from paperfeed.search import encoder as encoders
from paperfeed.search import key_terms, keyword, store, term_rows, term_space, vectors
from paperfeed.search.errors import IndexBusy

Progress = Callable[[str, int, int], None]  # (phase, advance, total)
KEEP_GENERATIONS = 2  # the served one and the one before, still open in slow readers


@dataclass
class IndexReport:
    generation: str | None  # the generation now served
    indexed: int  # papers embedded and indexed by this run
    complete: bool  # False: stopped early (max_chunks); rerun to continue
    resumed: bool  # continued an interrupted build
    seconds: float
    terms_filled: int = 0  # papers that had no key terms and got them after the switch


@dataclass
class ResumeState:
    """Where a build stands: saved with every chunk, so a killed run continues from it.

    Stored as JSON in the building catalogue's `progress` table, with the keys
    `base model_id dim dtype rev id upto done foryou` (`last_id` is stored as `id`).
    """

    base: int | None  # the generation the build adds to; None: built from nothing
    model_id: str  # the encoder that embeds every chunk
    dim: int
    dtype: str  # vector storage type (vectors.storage_dtype)
    rev: int  # the cursor: the last revision done ...
    last_id: str | None  # ... and the last arXiv id of that revision (None: none yet)
    upto: int  # the build indexes papers with revision <= upto
    done: int  # papers indexed so far, over every run of this build
    foryou: str | None = None  # the encoder of the For-you vectors (None: no second pass)

    def to_json(self) -> str:
        return json.dumps({"base": self.base, "model_id": self.model_id, "dim": self.dim, "dtype": self.dtype,
                           "rev": self.rev, "id": self.last_id, "upto": self.upto, "done": self.done,
                           "foryou": self.foryou})

    @classmethod
    def from_json(cls, text: str) -> ResumeState:
        data = json.loads(text)
        return cls(data["base"], data["model_id"], int(data["dim"]), data["dtype"], int(data["rev"]),
                   data["id"], int(data["upto"]), int(data["done"]), data.get("foryou"))

    def pending(self):
        """Where-clause of the papers still to index: after the cursor, up to `upto`."""
        return _cursor_filter(self.rev, self.last_id, self.upto)

    def advance(self, last_row, count: int) -> None:
        """Move the cursor past a chunk of `count` papers ending with `last_row`."""
        self.rev, self.last_id, self.done = last_row.revision, last_row.arxiv_id, self.done + count

    def continues(self, model_id: str, served: store.Meta | None, foryou: str | None = None) -> bool:
        """Whether this build can go on: made by the same encoders, and started from
        scratch (a rebuild) or from the generation still served."""
        # a build started without the For-you pass (by an older version) goes on without it
        return self.model_id == model_id and self.foryou in (foryou, None) and (
            self.base is None or (served is not None and self.base == served.generation)
        )


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
            "create table if not exists staged_foryou (key integer primary key, vector blob not null);"
            "create table if not exists progress (id integer primary key check (id = 1), state text);"
        )

    @property
    def state(self) -> ResumeState | None:
        row = self.conn.execute("select state from progress").fetchone()
        return ResumeState.from_json(row[0]) if row else None

    def start(self, state: ResumeState) -> None:
        self.conn.execute("insert or replace into progress values (1, ?)", (state.to_json(),))

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

    def commit_chunk(self, rows: list, keys: dict[str, int], vecs: np.ndarray, state: ResumeState,
                     foryou: np.ndarray | None = None) -> None:
        """Catalogue rows, staged vectors (and For-you vectors) and the cursor, in one transaction."""
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
            if foryou is not None:
                self.conn.executemany("insert or replace into staged_foryou values (?, ?)", [
                    (keys[row.arxiv_id], vec.tobytes()) for row, vec in zip(rows, foryou.astype(np.float16), strict=True)])
            self.conn.execute("update progress set state = ? where id = 1", (state.to_json(),))

    def staged(self, batch: int = 50_000, table: str = "staged"):
        """(keys, float16 vectors) of `table` (`staged`, or `staged_foryou`) in key order, a batch at a time."""
        last = -1
        while True:
            rows = self.conn.execute(
                f"select key, vector from {table} where key > ? order by key limit ?", (last, batch)
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            keys = np.array([r[0] for r in rows], np.uint64)
            yield keys, np.frombuffer(b"".join(r[1] for r in rows), np.float16).reshape(len(rows), -1)

    def finish(self) -> None:
        self.conn.executescript("drop table staged; drop table staged_foryou; drop table progress; vacuum;")
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
    started = time.perf_counter()
    root = store.index_root(index_dir)
    root.mkdir(parents=True, exist_ok=True)
    chunk_size = chunk_size or int(settings.get("index_chunk_size"))
    try:
        lock = locks.file_lock(root / "lock", "index")
    except locks.JobLocked:
        raise IndexBusy(f"another `paperfeed index` is updating {root}") from None
    try:
        encoder = encoder or encoders.get_encoder()
        run = _Run(engine, root, encoder, chunk_size, progress, started)
        report = _update(run, rebuild, max_chunks)
        if report.complete and report.generation is not None:
            served = keyword.open_index(root / report.generation / "keyword")
            report.terms_filled = _key_terms(run, served, Paper.key_terms.is_(None), "older terms")
            report.seconds = time.perf_counter() - started
        return report
    finally:
        lock.close()


@dataclass
class _Run:
    """What every step of one `update` call shares."""

    engine: Engine
    root: Path
    encoder: object  # encoder.Encoder, or anything with model_id, dim, encode_documents
    chunk_size: int
    progress: Progress | None
    started: float
    @cached_property
    def foryou_id(self) -> str | None:
        """The For-you encoder's model id (`encoder.foryou_variant`), or None: no second pass."""
        variant = encoders.foryou_variant(self.encoder)
        return encoders.foryou_model_id(self.encoder, variant) if variant is not None else None

    @cached_property
    def foryou(self):
        """The For-you encoder, built on first use (a run with nothing to embed never loads it)."""
        return encoders.foryou_encoder(self.encoder)

    def report(self, generation: str | None, indexed: int, complete: bool, resumed: bool) -> IndexReport:
        return IndexReport(generation, indexed, complete, resumed, time.perf_counter() - self.started)

    def count(self, where) -> int:
        with self.engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(Paper).where(where))

    def tick(self, phase: str, advance: int, total: int) -> None:
        if self.progress:
            self.progress(phase, advance, total)


def _update(run: _Run, rebuild: bool, max_chunks: int | None) -> IndexReport:
    """Resume or start a build, index its chunks, then finish and switch (under the lock)."""
    served = store.current_name(run.root)
    served_meta = store.Meta.read(run.root / served) if served else None
    state, base = _resumable(run, served_meta, rebuild)
    with run.engine.connect() as conn:
        upto = conn.scalar(select(func.max(Paper.revision))) or 0
    resumed = state is not None
    if state is None:
        state = _start(run, base, served, upto)
        if state is None:  # nothing changed since the served generation
            return run.report(served, 0, True, False)
    else:
        state.upto = max(state.upto, upto)
    build = Build(run.root)
    total = state.done + run.count(state.pending())
    run.tick("embed", state.done, total)
    base_folder = run.root / f"gen-{base.generation:06d}" if base is not None else None
    rows = term_rows.Writer.start(build.folder, base_folder, lambda: _space_sample(run))
    indexed, chunks = _index_chunks(run, build, state, total, max_chunks, rows)
    if max_chunks is not None and chunks >= max_chunks and state.done < total:
        return run.report(served, indexed, False, resumed)
    return run.report(_finish(run, build, state, base, rows), indexed, True, resumed)


def _space_sample(run: _Run) -> list[str]:
    """The texts a new generation's term space is fitted on: the newest `term_rows.SAMPLE` papers."""
    with run.engine.connect() as conn:
        rows = conn.execute(select(Paper.title, Paper.abstract).order_by(Paper.published.desc(), Paper.arxiv_id.desc())
                            .limit(term_rows.SAMPLE)).all()
    return [term_space.paper_text(r.title, r.abstract) for r in rows]


def _resumable(run: _Run, served: store.Meta | None, rebuild: bool) -> tuple[ResumeState | None, store.Meta | None]:
    """(the interrupted build's state if it can continue, else None; the generation it adds to).

    A build that cannot continue is discarded; a new one adds to the served
    generation (refused if another encoder made it) unless `rebuild`.
    """
    building = run.root / "building"
    state = None
    if (building / "catalog.sqlite").exists() and not rebuild:
        probe = Build(run.root)
        state = probe.state
        probe.conn.close()
    if state is not None and state.continues(run.encoder.model_id, served, run.foryou_id):
        return state, served if state.base is not None else None
    shutil.rmtree(building, ignore_errors=True)
    base = None if rebuild else served
    if base is not None:
        vectors.check_model(base.model_id, run.encoder.model_id)
    return None, base


def _start(run: _Run, base: store.Meta | None, served: str | None, upto: int) -> ResumeState | None:
    """A new `building/` folder and its state; None when there is nothing to add to `base`
    (and `base` has its term rows: one made before they were kept is built again, once).

    An update starts from hard links to the served keyword index and a copy of
    its catalogue; a first build or a rebuild from nothing.
    """
    start_rev = base.revision if base else -1
    if (base is not None and not run.count(_cursor_filter(start_rev, None, upto))
            and term_rows.kept(run.root / served)):
        return None  # (a generation without term rows is built again, to give every paper one)
    building = run.root / "building"
    building.mkdir()
    if base is not None:
        _link_tree(run.root / served / "keyword", building / "keyword")
        shutil.copy2(run.root / served / "catalog.sqlite", building / "catalog.sqlite")
    state = ResumeState(
        base=base.generation if base else None,
        model_id=run.encoder.model_id,
        dim=int(run.encoder.dim),
        dtype=vectors.storage_dtype(settings.get("vector_dtype")),
        rev=start_rev,
        last_id=None,
        upto=upto,
        done=0,
        # For-you vectors of one encoder or none: an update adds to the base's only when they were
        # made as they are now; otherwise For you keeps the search vectors until a rebuild
        foryou=run.foryou_id if base is None or base.foryou_model_id == run.foryou_id else None,
    )
    starting = Build(run.root)
    starting.start(state)
    starting.conn.close()
    return state


_CHUNK_COLUMNS = (Paper.arxiv_id, Paper.revision, Paper.title, Paper.abstract, Paper.authors,
                  Paper.categories, Paper.published)


def _index_chunks(run: _Run, build: Build, state: ResumeState, total: int,
                  max_chunks: int | None, rows_writer: term_rows.Writer | None) -> tuple[int, int]:
    """Embed and index chunks until none is left (or `max_chunks`): (papers, chunks) done."""
    writer = keyword.open_index(build.folder / "keyword").writer(keyword.WRITER_HEAP)
    indexed = chunks = 0
    while max_chunks is None or chunks < max_chunks:
        with run.engine.connect() as conn:
            rows = conn.execute(
                select(*_CHUNK_COLUMNS)
                .where(state.pending())
                .order_by(Paper.revision, Paper.arxiv_id)
                .limit(run.chunk_size)
            ).all()
        if not rows:
            break
        _index_chunk(run.encoder, build, writer, state, rows, rows_writer, run.foryou if state.foryou else None)
        indexed += len(rows)
        chunks += 1
        run.tick("embed", len(rows), total)
    writer.wait_merging_threads()
    return indexed, chunks


def _index_chunk(encoder, build: Build, writer, state: ResumeState, rows: list,
                 rows_writer: term_rows.Writer | None = None, foryou=None) -> None:
    """One chunk: embed it (and again with the For-you encoder, when there is one), replace its
    tantivy documents (commit), write its term rows, then commit its vectors and the moved
    cursor together, so a kill loses at most this chunk (a chunk done again writes its rows
    again, in a later segment)."""
    keys, new = build.keys_for([r.arxiv_id for r in rows])
    texts = [encoders.document_text(r.title, r.abstract) for r in rows]
    vecs = encoder.encode_documents(texts)
    short = foryou.encode_documents(texts) if foryou is not None else None
    for r in rows:
        if r.arxiv_id not in new:  # a changed paper, or a chunk re-applied after a kill
            writer.delete_documents_by_term("arxiv_id", r.arxiv_id)
        writer.add_document(keyword.document(
            keys[r.arxiv_id], r.arxiv_id, r.title, r.abstract, r.authors, r.categories, r.published
        ))
    writer.commit()
    if rows_writer is not None:
        rows_writer.add([keys[r.arxiv_id] for r in rows], texts)  # title + abstract, as `term_space.paper_text`
    state.advance(rows[-1], len(rows))
    build.commit_chunk(rows, keys, vecs, state, short)


def _key_terms(run: _Run, index, where, phase: str) -> int:
    """Key terms for the papers `where` selects, a chunk at a time, weighed by `index`'s
    document frequencies; how many.  A paper changed since it was read keeps what it
    had: its own indexing gives it terms."""
    total = run.count(where)
    if not total:
        return 0
    word_df, docs = keyword.word_frequency(index)
    papers = Paper.__table__
    stmt = (
        papers.update()
        .where(papers.c.arxiv_id == bindparam("id"), papers.c.revision == bindparam("rev"))
        .values(key_terms=bindparam("terms"))
    )
    done, after = 0, true()
    while True:
        with run.engine.connect() as conn:
            rows = conn.execute(
                select(Paper.arxiv_id, Paper.revision, Paper.title, Paper.abstract)
                .where(where, after).order_by(Paper.revision, Paper.arxiv_id).limit(run.chunk_size)
            ).all()
        if not rows:
            return done
        terms = key_terms.extract([(r.title, r.abstract) for r in rows], word_df, docs)
        with run.engine.begin() as conn:
            conn.execute(stmt, [{"id": r.arxiv_id, "rev": r.revision, "terms": t} for r, t in zip(rows, terms, strict=True)])
        done += len(rows)
        last = rows[-1]
        after = or_(Paper.revision > last.revision, and_(Paper.revision == last.revision, Paper.arxiv_id > last.arxiv_id))
        run.tick(phase, len(rows), total)


def _finish(run: _Run, build: Build, state: ResumeState, base: store.Meta | None,
            rows_writer: term_rows.Writer | None = None) -> str:
    """Graph and matrix, the build's key terms, term rows for the papers without one,
    filter arrays, meta; then the switch.  Returns the new generation's name."""
    _write_vectors(run, build, state, base)
    if rows_writer is not None:
        _fill_term_rows(run, build, rows_writer)
        rows_writer.finish()
    built = _cursor_filter(base.revision if base else -1, None, state.upto)
    _key_terms(run, keyword.open_index(build.folder / "keyword"), built, "terms")
    count = build.conn.execute("select count(*) from docs").fetchone()[0]
    build.finish()
    generation = (base.generation if base else _last_generation(run.root)) + 1
    store.Meta(generation, state.model_id, state.dim, state.dtype, state.upto, count, state.foryou).write(build.folder)
    return _switch(run.root, build.folder, generation)


def _fill_term_rows(run: _Run, build: Build, rows_writer: term_rows.Writer) -> int:
    """Term rows for the catalogue's papers that have none: those of an index built before
    rows were kept (the first build after the upgrade), a chunk at a time; how many."""
    docs = build.conn.execute("select key, arxiv_id from docs order by key").fetchall()
    keys = np.asarray([k for k, _ in docs], np.int64)
    missing = set(rows_writer.missing(keys).tolist()) if len(keys) else set()
    todo = [(k, a) for k, a in docs if k in missing]
    if not todo:
        return 0
    done = 0
    run.tick("term rows", 0, len(todo))
    for start in range(0, len(todo), run.chunk_size):
        part = dict((a, k) for k, a in todo[start : start + run.chunk_size])
        with run.engine.connect() as conn:
            found = []
            ids = list(part)
            for s in range(0, len(ids), 5_000):
                found += conn.execute(select(Paper.arxiv_id, Paper.title, Paper.abstract)
                                      .where(Paper.arxiv_id.in_(ids[s : s + 5_000]))).all()
        rows_writer.add([part[r.arxiv_id] for r in found], [term_space.paper_text(r.title, r.abstract) for r in found])
        done += len(found)
        run.tick("term rows", len(part), len(todo))
    return done


def _write_vectors(run: _Run, build: Build, state: ResumeState, base: store.Meta | None) -> None:
    """The HNSW graph (the base's, loaded, plus the staged vectors) and the vector matrix."""
    staged = build.conn.execute("select count(*) from staged").fetchone()[0]
    base_folder = run.root / f"gen-{base.generation:06d}" if base is not None else None
    if base is not None:
        graph = vectors.load(base_folder / "vectors.usearch", base.dim, base.dtype, view=False)
    else:
        graph = vectors.new_index(state.dim, state.dtype)
    size = (build.conn.execute("select max(key) from docs").fetchone()[0] or 0) + 1
    matrix = vectors.MatrixWriter(build.folder, graph, size, base_folder)
    run.tick("graph", 0, staged)
    for keys, vecs in build.staged():  # one pass over the staged vectors feeds both
        vectors.upsert(graph, keys, vecs)
        matrix.put(keys, vecs)
        run.tick("graph", len(keys), staged)
    matrix.close()
    if state.foryou is not None:  # the base, if any, has For-you rows of the same encoder (`_start`)
        short = vectors.MatrixWriter(build.folder, graph, size, base_folder, vectors.Matrix.FORYOU,
                                     prefill=base is not None)
        for keys, vecs in build.staged(table="staged_foryou"):
            short.put(keys, vecs)
        short.close()
    vectors.save(graph, build.folder / "vectors.usearch")


def _last_generation(root: Path) -> int:
    numbers = [int(p.name.split("-")[1]) for p in root.glob("gen-*") if p.name.split("-")[1].isdigit()]
    return max(numbers, default=0)
