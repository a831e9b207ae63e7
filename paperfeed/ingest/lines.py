"""
Reading JSON lines defensively: one bad line never stops the lines after it.

Lines longer than `MAX_LINE` bytes are skipped without being held in memory
whole, invalid UTF-8 and invalid JSON are reported with their line number, and
a truncated last line is reported like any other bad line.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import orjson

from paperfeed.ingest.records import Reject

MAX_LINE = 4 * 1024 * 1024


def json_lines(f: BinaryIO, origin: str) -> Iterator[tuple[int, dict] | Reject]:
    """Yield (line number, object) for each good line and a Reject for each bad one."""
    number = 0
    while True:
        line = f.readline(MAX_LINE + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE and not line.endswith(b"\n"):
            while (rest := f.readline(MAX_LINE)) and not rest.endswith(b"\n"):
                pass  # skip the remainder of the oversized line in bounded pieces
            yield Reject(origin, f"line {number}", f"line longer than {MAX_LINE} bytes")
            continue
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)  # orjson checks the whole line is UTF-8 before parsing it
        except orjson.JSONDecodeError as e:
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as bad:
                why = f"invalid UTF-8 at byte {bad.start}"
            else:
                why = "truncated JSON" if not line.endswith(b"\n") else f"invalid JSON: {e}"
            yield Reject(origin, f"line {number}", why, _excerpt(line))
            continue
        if not isinstance(obj, dict):
            yield Reject(origin, f"line {number}", f"expected a JSON object, got {type(obj).__name__}", _excerpt(line))
            continue
        yield number, obj


def _excerpt(raw: bytes) -> str:
    return raw[:200].decode("utf-8", "replace").strip()
