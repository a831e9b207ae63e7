"""The one category rule (paperfeed/categories.py): an archive prefix selects its `.` and `-` children."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paperfeed import categories


@pytest.mark.parametrize(
    "category, wanted",
    [
        ("cs.CL", "cs.CL"), ("cs.CL", "cs.cl"), ("cs.CL", "cs"), ("cs.CL", "CS"),
        ("hep-th", "hep"), ("hep-ph", "hep"), ("hep-ex", "hep"), ("hep-lat", "hep"), ("hep-th", "hep-th"),
        ("math.AG", "math"), ("math-ph", "math"), ("math-ph", "math-ph"),
        ("cond-mat.str-el", "cond-mat"), ("cond-mat.str-el", "cond"), ("astro-ph.GA", "astro-ph"),
        ("physics.acc-ph", "physics"), ("q-bio.NC", "q-bio"),
    ],
)
def test_a_prefix_selects_its_children(category, wanted):
    assert categories.matches(category, wanted)


@pytest.mark.parametrize(
    "category, wanted",
    [
        ("cs.CL", "cs.C"), ("cs.CL", "c"), ("cs.CLX", "cs.CL"), ("math-ph", "mat"), ("mathematics", "math"),
        ("hep-th", "hep-t"), ("hep-th", "hep-ph"), ("nucl-th", "hep"), ("physics.acc-ph", "acc"),
        ("physics.acc-ph", "physics.acc"), ("stat.ML", "cs"), ("cs.CL", ""),
    ],
)
def test_nothing_else_does(category, wanted):
    assert not categories.matches(category, wanted)


def test_prefixes_longest_first():
    assert categories.prefixes("cond-mat.str-el") == ["cond-mat.str-el", "cond-mat", "cond"]
    assert categories.prefixes("HEP-TH") == ["hep-th", "hep"]
    assert categories.prefixes("  ") == []


def test_any_match():
    assert categories.any_match(["stat.ML", "cs.LG"], ("cs",))
    assert categories.any_match(["hep-lat"], ("math", "hep"))
    assert not categories.any_match(["nucl-th"], ("hep",))
    assert categories.any_match(["nucl-th"], ())  # no filter: everything
    assert not categories.any_match([], ("cs",))


def test_parse_keeps_distinct_names_and_refuses_bad_ones():
    assert categories.parse(["cs.CL", "", "CS.cl", "hep"]) == ("cs.CL", "hep")
    for bad in ["cs CL", "cs.", ".cs", "c$", "cs..CL", "a" * 41, "cs.CL\n"]:
        with pytest.raises(categories.CategoryError, match="not an arXiv category"):
            categories.parse([bad])
    with pytest.raises(categories.CategoryError, match="at most 10"):
        categories.parse([f"cs.{chr(65 + i)}X" for i in range(11)])


@given(st.text(max_size=50))
def test_valid_is_the_schema_pattern(text):
    """What the OpenAPI schema says is a name is exactly what the server accepts."""
    by_pattern = re.search(categories.PATTERN, text) is not None and "\n" not in text
    assert categories.valid(text) == (by_pattern and len(text) <= categories.MAX_CHARS)
