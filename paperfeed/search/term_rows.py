"""
Every indexed paper's tf-idf row, stored with its index generation.

    <generation>/terms/
        space.json, idf.npy          the generation's `TermSpace` (term_space.py)
        seg-000001.keys.npy          a segment: the catalogue keys it has rows for,
        seg-000001.indptr.npy        ... and those rows as CSR arrays (float32 data,
        seg-000001.indices.npy           int32 columns), memory-mapped
        seg-000001.data.npy

`paperfeed index` fits the space once for a generation whose base has none (a
first build, `--rebuild`, or the first build after an upgrade) on the newest
`SAMPLE` papers, then writes one segment per chunk it indexes; every `FANOUT`
segments of one size are merged into one as it goes (so a build of millions
of papers keeps a few dozen, not thousands, each a file handle once read),
and its own are merged into one when it finishes.  An update links its base's files (they are
never rewritten) and adds its segment, so new and changed papers get rows in
the same space; a paper in several segments has the row of the last one.  Past
`MAX_SEGMENTS` (a month of daily updates), a build merges every segment but
the first (the big one of the first build) into one, so a generation keeps
few files open.  Before the switch, papers of the catalogue that have no
row yet (an index built before rows existed) get theirs, so every paper of a
generation with a space has a row.

"For you" (`paperfeed.recommend.source`) reads rows with `TermRows.get`
instead of fitting a space per window and re-tokenising every library.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

import numpy as np
from scipy import sparse

from paperfeed.search.term_space import FOR_YOU, TermSpace

FOLDER = "terms"
SAMPLE = 50_000  # newest papers the space is fitted on
PARTS = ("keys", "indptr", "indices", "data")
MAX_SEGMENTS = 32  # past this, a build merges all segments but the oldest into one (`Writer.finish`)
MERGE_KEYS = 100_000  # rows copied at a time when merging
FANOUT = 8  # a build merges this many of its segments of one size (tier) into one as it goes


def _segments(folder: Path) -> list[str]:
    """Segment names in write order (a segment is complete once its keys file exists)."""
    return sorted(p.name[: -len(".keys.npy")] for p in folder.glob("seg-*.keys.npy"))


def _number(name: str) -> int:
    return int(name.split("-")[1])


def _after(folder: Path | None) -> int:
    """The number of the segment written after those of `folder` (1 for none)."""
    names = _segments(folder) if folder is not None and folder.is_dir() else []
    return _number(names[-1]) + 1 if names else 1


def _tier(folder: Path, name: str) -> int:
    """A segment's size class: log base `FANOUT` of its rows (its keys file's header, read and closed)."""
    rows, tier = np.load(folder / f"{name}.keys.npy", mmap_mode="r").shape[0], 0
    while rows >= FANOUT:  # integers: math.log(64, 8) is 1.999...
        rows //= FANOUT
        tier += 1
    return tier


def kept(generation: Path) -> bool:
    """Whether the generation was built by an indexer that keeps term rows (it has `terms/`,
    empty when its papers had no text to fit a space on)."""
    return (generation / FOLDER).is_dir()


class TermRows:
    """The rows of one generation, opened read-only; `get(keys)` gives a CSR matrix."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.names = _segments(folder)
        # keys in memory (8 bytes a paper); the CSR arrays memory-mapped on first use (`_part`),
        # so `have` holds no file open
        self.segments = [{"keys": np.load(folder / f"{name}.keys.npy")} for name in self.names]

    def _part(self, i: int, part: str) -> np.ndarray:
        """Array `part` of segment i, memory-mapped once."""
        seg = self.segments[i]
        if part not in seg:
            seg[part] = np.load(self.folder / f"{self.names[i]}.{part}.npy", mmap_mode="r")
        return seg[part]

    @classmethod
    def open(cls, generation: Path) -> TermRows | None:
        """The rows of the generation in `generation`, or None (an index built before them)."""
        folder = generation / FOLDER
        return cls(folder) if (folder / "space.json").exists() else None

    @cached_property
    def space(self) -> TermSpace:
        return TermSpace.load(self.folder)

    @cached_property
    def _where(self) -> tuple[np.ndarray, np.ndarray]:
        """(segment, row in it) by key; segment -1: no row.  Later segments win."""
        size = max((int(s["keys"].max()) + 1 for s in self.segments if len(s["keys"])), default=0)
        seg = np.full(size, -1, np.int32)
        pos = np.zeros(size, np.int64)
        for i, s in enumerate(self.segments):
            keys = np.asarray(s["keys"], np.int64)
            seg[keys], pos[keys] = i, np.arange(len(keys))
        return seg, pos

    def have(self, keys) -> np.ndarray:
        """Bool per key: whether it has a row."""
        keys = np.asarray(keys, np.int64)
        seg, _ = self._where
        out = np.zeros(len(keys), bool)
        inside = (keys >= 0) & (keys < len(seg))
        out[inside] = seg[keys[inside]] >= 0
        return out

    def get(self, keys):
        """CSR (len(keys), terms) float32 rows of `keys`, in order; every key must `have` a row."""
        keys = np.asarray(keys, np.int64)
        seg_of, pos_of = self._where
        seg, pos = seg_of[keys], pos_of[keys]
        if (seg < 0).any():
            raise KeyError("some keys have no term row")
        lengths = np.zeros(len(keys), np.int64)
        starts = np.zeros(len(keys), np.int64)
        for i in np.unique(seg):
            at = np.flatnonzero(seg == i)
            indptr = self._part(i, "indptr")
            starts[at] = indptr[pos[at]]
            lengths[at] = np.asarray(indptr[pos[at] + 1]) - starts[at]
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        indices = np.empty(int(indptr[-1]), np.int32)
        data = np.empty(int(indptr[-1]), np.float32)
        for i in np.unique(seg):
            at = np.flatnonzero(seg == i)
            src = _ranges(starts[at], lengths[at])  # positions in the segment's arrays
            dst = _ranges(indptr[at], lengths[at])
            indices[dst] = self._part(i, "indices")[src]
            data[dst] = self._part(i, "data")[src]
        return sparse.csr_matrix((data, indices, indptr), shape=(len(keys), len(self.space.terms)))


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenated aranges [start, start + length) for each pair, without a Python loop."""
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, np.int64)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return offsets + np.arange(total)


class Writer:
    """Adds segments to a building generation's `terms/` folder."""

    def __init__(self, folder: Path, space: TermSpace, first_own: int | None = None) -> None:
        self.folder, self.space = folder, space
        self.next = _after(folder)
        self.first_own = self.next if first_own is None else first_own  # this build's first segment

    @classmethod
    def start(cls, building: Path, base: Path | None, sample) -> Writer | None:
        """The writer of `building`, made on first use: from the base's rows (linked) when the
        base has a space, else a space fitted on `sample()` (texts).  None when there is no
        text to fit on (an empty database): that generation keeps no rows."""
        folder = building / FOLDER
        base_folder = base / FOLDER if base is not None else None
        first_own = _after(base_folder)  # the base's segments are linked, never merged by this build's own
        space = TermSpace.load(folder)
        if space is not None:  # a resumed build
            return cls(folder, space, first_own)
        folder.mkdir(parents=True, exist_ok=True)
        if base_folder is not None and (base_folder / "space.json").exists():
            for f in sorted(base_folder.iterdir()):
                if f.name != "space.json" and f.is_file() and not f.name.startswith("."):
                    _link(f, folder / f.name)
            _link(base_folder / "space.json", folder / "space.json")  # last: the folder is complete
            return cls(folder, TermSpace.load(folder), first_own)
        try:
            space = TermSpace.fit(list(sample()), **FOR_YOU)
        except ValueError:  # no text, or no word in any: `terms/` stays empty (see `kept`)
            return None
        space.save(folder)
        return cls(folder, space, first_own)

    def add(self, keys, texts: list[str]) -> None:
        """A segment with the rows of `texts` for catalogue `keys`."""
        if not len(keys):
            return
        m = self.space.rows(list(texts))
        name = f"seg-{self.next:06d}"
        arrays = {"indptr": m.indptr.astype(np.int64), "indices": m.indices.astype(np.int32),
                  "data": m.data.astype(np.float32), "keys": np.asarray(keys, np.int64)}
        for part in PARTS:  # keys last: a segment without its keys file is ignored (and overwritten)
            tmp = self.folder / f".{name}.{part}.tmp.npy"
            np.save(tmp, arrays[part])
            os.replace(tmp, self.folder / f"{name}.{part}.npy")
        self.next += 1
        self._merge_tiers()

    def _merge_tiers(self) -> None:
        """While this build's newest `FANOUT` segments are of one tier, merge them into one (of the next)."""
        while True:
            own = [n for n in _segments(self.folder) if _number(n) >= self.first_own]
            if len(own) < FANOUT:
                return
            last = own[-FANOUT:]
            if len({_tier(self.folder, n) for n in last}) > 1:
                return
            self._merge(last)

    def finish(self, first_own: int | None = None) -> None:
        """Merge the segments this build wrote (numbered from `first_own`, default the writer's)
        into one; then, past `MAX_SEGMENTS`, every segment but the oldest."""
        first_own = self.first_own if first_own is None else first_own
        names = _segments(self.folder)
        own = [n for n in names if _number(n) >= first_own]
        if len(own) > 1:
            self._merge(own)
        names = _segments(self.folder)
        if len(names) > MAX_SEGMENTS:
            self._merge(names[1:])

    def _merge(self, names: list[str]) -> None:
        """One new segment with the rows the `names` segments hold (the latest of each key),
        written before they are removed (a kill in between leaves equal duplicates)."""
        rows = TermRows(self.folder)  # its segments in the order of `_segments`
        merged = set(names)
        keys = np.unique(np.concatenate([np.asarray(rows.segments[i]["keys"], np.int64)
                                         for i, n in enumerate(rows.names) if n in merged]))
        seg, pos = rows._where
        lengths = np.zeros(len(keys), np.int64)
        for i in np.unique(seg[keys]):
            sel = np.flatnonzero(seg[keys] == i)
            indptr = rows._part(i, "indptr")
            lengths[sel] = np.asarray(indptr[pos[keys[sel]] + 1]) - np.asarray(indptr[pos[keys[sel]]])
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        name = f"seg-{self.next:06d}"
        tmp = {part: self.folder / f".{name}.{part}.tmp.npy" for part in PARTS}
        indices = np.lib.format.open_memmap(tmp["indices"], mode="w+", dtype=np.int32, shape=(int(indptr[-1]),))
        data = np.lib.format.open_memmap(tmp["data"], mode="w+", dtype=np.float32, shape=(int(indptr[-1]),))
        for start in range(0, len(keys), MERGE_KEYS):
            part = rows.get(keys[start : start + MERGE_KEYS])
            lo, hi = indptr[start], indptr[min(start + MERGE_KEYS, len(keys))]
            indices[lo:hi], data[lo:hi] = part.indices, part.data
        indices.flush()
        data.flush()
        del indices, data, rows  # closes the maps of the segments about to be removed
        np.save(tmp["indptr"], indptr)
        np.save(tmp["keys"], keys.astype(np.int64))
        for part in PARTS:  # keys last, as in `add`
            os.replace(tmp[part], self.folder / f"{name}.{part}.npy")
        self.next += 1
        for n in names:
            for part in PARTS:
                (self.folder / f"{n}.{part}.npy").unlink(missing_ok=True)

    def missing(self, keys: np.ndarray) -> np.ndarray:
        """Those of `keys` with no row in this folder yet."""
        return np.asarray(keys, np.int64)[~TermRows(self.folder).have(keys)]


def _link(src: Path, dst: Path) -> None:
    if dst.exists():
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        import shutil

        shutil.copy2(src, dst)
