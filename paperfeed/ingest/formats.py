"""
Which reader handles an input: the format registry and its detection.

Every format module offers `read(f, origin)` over a binary file, yielding
`PaperRecord`s and `Reject`s; the live ones also offer `fetch(url, origin)`.
Detection looks at the URL or at the first bytes of a file, never at the whole
file, so it is cheap on a multi-gigabyte snapshot.
"""

from __future__ import annotations

import gzip
import importlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import orjson

from paperfeed.ingest.records import PaperRecord, Reject

# format name -> module in paperfeed.ingest
FORMATS = {
    "kaggle": "kaggle",
    "atom": "atom",
    "oai": "oai",
    "hf-daily": "hf_daily",
    "table": "table",
}
LIVE = {"atom", "oai", "hf-daily"}


class UnknownFormat(ValueError):
    pass


def module(fmt: str):
    return importlib.import_module(f"paperfeed.ingest.{FORMATS[fmt]}")


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def detect_url(url: str) -> str:
    lowered = url.lower()
    if "daily_papers" in lowered:
        return "hf-daily"
    if "oai" in lowered.split("?")[0]:
        return "oai"
    return "atom"  # the arXiv API: export.arxiv.org/api/query?...


def detect_file(path: Path, head: bytes) -> str:
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    if head.startswith(b"PAR1") or suffixes[-1:] == [".parquet"]:
        return "table"
    if suffixes[-1:] in ([".csv"], [".tsv"]):
        return "table"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<"):
        if b"<OAI-PMH" in head:
            return "oai"
        if b"<feed" in head:
            return "atom"
        raise UnknownFormat("XML that is neither an Atom feed nor an OAI-PMH response")
    if text.startswith(b"["):
        return "hf-daily"
    if text.startswith(b"{"):
        first = text.split(b"\n", 1)[0]
        try:
            obj = orjson.loads(first)
        except orjson.JSONDecodeError:
            obj = None
        if isinstance(obj, dict):
            if "papers" in obj or "paper" in obj:
                return "hf-daily"
            if "arxiv_id" in obj:
                return "table"
            if module("kaggle").looks_like(obj):
                return "kaggle"
            return "table"
        if b'"papers"' in head or b'"paper"' in head:
            return "hf-daily"
        return "table"  # JSON lines whose first line is bad: the table reader reports it
    raise UnknownFormat("not JSON, JSON lines, CSV, Parquet or XML")


HEAD = 1024 * 1024  # enough for the first line of any sane JSON-lines file


def open_file(path: Path) -> BinaryIO:
    """A buffered binary reader whose `peek` can see `HEAD` bytes, for detection."""
    if path.suffix.lower() == ".gz":
        return io.BufferedReader(gzip.open(path, "rb"), buffer_size=HEAD)  # type: ignore[arg-type]
    return path.open("rb", buffering=HEAD)


def position(f: BinaryIO) -> int:
    """Bytes of the file on disk read so far (for .gz, compressed bytes), for progress bars."""
    inner = getattr(getattr(f, "raw", None), "fileobj", None)  # BufferedReader(GzipFile(file))
    return (inner or f).tell()


def records(source: str, fmt: str | None, f: BinaryIO | None) -> Iterator[PaperRecord | Reject]:
    """Records of one input: a URL (fetched live) or an open file."""
    if f is None:
        fmt = fmt or detect_url(source)
        if fmt not in LIVE:
            raise UnknownFormat(f"format {fmt!r} cannot be fetched from a URL")
        return module(fmt).fetch(source, source)
    if fmt is None:
        head = f.peek(HEAD)[:HEAD] if hasattr(f, "peek") else b""
        fmt = detect_file(Path(source), head)
    return module(fmt).read(f, source)
