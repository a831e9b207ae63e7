"""`cat:` in search on a real index (issue #15): an archive prefix selects its `-` and
`.` children (`cat:hep` finds hep-th, hep-ph, hep-ex and hep-lat), in every mode, in
the query text and as a parameter, also on an index built before the rule."""

from __future__ import annotations

from datetime import date

import pytest

from paperfeed.ingest.upsert import write_batch
from paperfeed.search import keyword, search, update_index
from tests.test_search_index import encoder, record  # noqa: F401 (a fixture)

PAPERS = [  # every one about "field theory", so a text query reaches them all
    ("hep-th/9711200", "Large N field theory and supergravity", ["hep-th"]),
    ("0704.0001", "Diphoton production in perturbative field theory", ["hep-ph"]),
    ("0704.0002", "A collider measurement tested against field theory", ["hep-ex", "hep-ph"]),
    ("0704.0003", "Lattice field theory on the computer", ["hep-lat"]),
    ("0704.0004", "Mathematical physics of quantum field theory", ["math-ph", "math.MP"]),
    ("0704.0005", "Algebraic geometry and field theory", ["math.AG"]),
    ("0704.0006", "Nuclear field theory of heavy nuclei", ["nucl-th"]),
    ("0704.0007", "Field theory of strongly correlated electrons", ["cond-mat.str-el"]),
    ("0704.0008", "Neural field theory for language models", ["cs.CL"]),
]
HEP = {"hep-th/9711200", "0704.0001", "0704.0002", "0704.0003"}
MATH = {"0704.0004", "0704.0005"}


def build(engine, encoder) -> None:  # noqa: F811
    write_batch(engine, [record(i, t, f"{t}, explained.", ["A. Author"], cats, date(2007, 4, 2))
                         for i, t, cats in PAPERS])
    assert update_index(engine, encoder=encoder).indexed == len(PAPERS)


@pytest.fixture
def indexed(engine, data_dir, encoder):  # noqa: F811
    build(engine, encoder)
    return engine


def found(engine, text, encoder, mode="hybrid", **kw) -> set[str]:  # noqa: F811
    return {h.arxiv_id for h in search(engine, text, mode=mode, limit=20, encoder=encoder, **kw).hits}


@pytest.mark.parametrize("mode", ["keyword", "semantic", "hybrid"])
@pytest.mark.parametrize(
    "text, kwargs, expected",
    [
        ("field theory cat:hep", {}, HEP),
        ("cat:hep", {}, HEP),  # no words: filters only
        ("field theory cat:math", {}, MATH),
        ("field theory cat:HEP-PH", {}, {"0704.0001", "0704.0002"}),
        ("field theory cat:cond", {}, {"0704.0007"}),
        ("field theory cat:cond-mat", {}, {"0704.0007"}),
        ("field theory cat:he", {}, set()),  # a prefix of a name is no archive
        ("field theory", {"category": "hep"}, HEP),
        ("field theory", {"category": ["math", "nucl"]}, MATH | {"0704.0006"}),
        ("field theory -cat:hep -cat:math", {}, {"0704.0006", "0704.0007", "0704.0008"}),
        ("field theory cat:astro", {}, set()),
    ],
)
def test_archive_prefixes_in_every_mode(indexed, encoder, mode, text, kwargs, expected):  # noqa: F811
    assert found(indexed, text, encoder, mode, **kwargs) == expected


def test_an_index_built_before_the_rule_answers_too(engine, data_dir, encoder, monkeypatch):  # noqa: F811
    """Indexes used to hold `hep-th` but not `hep` as a term: the query spells the
    prefix out into the categories the index holds, so no rebuild is needed."""
    def old_terms(categories):
        out = []
        for cat in categories or []:
            for term in (cat.strip().lower(), cat.strip().lower().split(".", 1)[0]):
                if term not in out:
                    out.append(term)
        return out

    with monkeypatch.context() as patched:
        patched.setattr(keyword, "category_terms", old_terms)
        build(engine, encoder)
    for mode in ("keyword", "semantic", "hybrid"):
        assert found(engine, "field theory cat:hep", encoder, mode) == HEP
        assert found(engine, "field theory cat:math", encoder, mode) == MATH
