"""The cleaners' and the line reader's fast paths give exactly what the plain definitions give."""

from __future__ import annotations

import io
import re

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paperfeed.ingest import clean
from paperfeed.ingest.lines import json_lines
from paperfeed.ingest.records import Reject

# every kind of character the fast paths must notice: ASCII and Unicode whitespace,
# line and paragraph separators, control and format characters, plain letters
NASTY = "ab é\n\t\r\x0b\x0c\x00\x01\x08\x1b\x1c\x1f\x7f\x85\xa0\u1680\u2000\u200b\u2028\u2029\u202f\u3000\ufeff"
CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f]")
PARAGRAPH = re.compile(r"\n[ \t]+")


def reference_text(value: str) -> str | None:
    return " ".join(CONTROL.sub("", value).split()) or None


def reference_abstract(value: str) -> str | None:
    value = CONTROL.sub("", value).strip()
    parts = PARAGRAPH.split(value) if "\n " in value or "\n\t" in value else (value,)
    return "\n".join(p for p in (" ".join(p.split()) for p in parts) if p) or None


@settings(max_examples=3000)
@given(st.text(alphabet=NASTY, max_size=40))
def test_text_matches_split_join(value):
    assert clean.text(value, "title") == reference_text(value)


@settings(max_examples=3000)
@given(st.text(alphabet=NASTY, max_size=40))
def test_abstract_matches_split_join(value):
    assert clean.abstract(value) == reference_abstract(value)


def test_typical_arxiv_abstract_takes_the_fast_path_unchanged():
    raw = "  We study the thing.\nIt is hard-wrapped\nat 80 columns.\n"
    assert clean.abstract(raw) == "We study the thing. It is hard-wrapped at 80 columns."
    assert clean.abstract("  One.\n  Two.\n") == "One.\nTwo."  # an indented line starts a paragraph


NAME_PART = st.text(alphabet=NASTY, max_size=8)


@settings(max_examples=3000)
@given(st.lists(st.lists(NAME_PART, min_size=0, max_size=4) | st.tuples(NAME_PART, NAME_PART, st.just("")).map(list)))
def test_authors_parsed_matches_split_join(value):
    reference = []
    for item in value:
        last, first, suffix = (item + ["", "", ""])[:3]
        if name := " ".join(f"{first} {last} {suffix}".split()):
            reference.append(name)
    assert clean.authors_parsed(value) == reference


def test_version_numbers():
    assert [clean.version_number(v) for v in ("v1", "v12", "3", 4, " v5 ", "v100")] == [1, 12, 3, 4, 5, 100]
    for bad in ("v0", "0", 0, True, "x1", None, "v"):
        with pytest.raises(ValueError):
            clean.version_number(bad)


def reference_json_lines(data: bytes) -> list:
    """What `json_lines` said before it let orjson check UTF-8: decode first, then parse."""
    out = []
    for number, line in enumerate(io.BytesIO(data), 1):
        if not line.strip():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as e:
            out.append((number, f"invalid UTF-8 at byte {e.start}"))
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            out.append((number, "truncated JSON" if not line.endswith(b"\n") else f"invalid JSON: {e}"))
            continue
        out.append((number, obj) if isinstance(obj, dict) else (number, "not an object"))
    return out


@settings(max_examples=2000)
@given(st.lists(st.sampled_from([b'{"a": "', b'"}', b"\xc3\xa9", b"\xff", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc3",
                                 b"\n", b"1", b"[", b"{", b"}", b'"', b" ", b"\xe2\x82\xac"]), max_size=12).map(b"".join))
def test_json_lines_reports_bad_utf8_and_bad_json_as_before(data):
    got = []
    for item in json_lines(io.BytesIO(data), "f"):
        if isinstance(item, Reject):
            reason = "not an object" if item.reason.startswith("expected a JSON object") else item.reason
            got.append((int(item.location.split()[1]), reason))
        else:
            got.append(item)
    assert got == reference_json_lines(data)
