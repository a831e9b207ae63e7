"""The search box syntax: parsing, and that no string can break the keyword engine."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperfeed.search import keyword
from paperfeed.search.query import MAX_QUERY_CHARS, ParsedQuery, parse

NASTY = [
    "",
    " ",
    '"',
    '"""',
    '"unbalanced quote',
    'state "space',
    "-",
    "--",
    "- -",
    "*",
    "**",
    "?",
    "NEAR(",
    "NEAR(a b, 3)",
    "AND",
    "OR OR",
    "NOT",
    "a AND (b OR",
    "title:",
    "author:",
    'author:"',
    "cat:",
    "-cat:",
    "after:",
    "after:2024-13-45",
    "after:0000",
    "before:9999-12-31",
    "after:2024 before:2023",
    ":::",
    "\\",
    "\\\"",
    "{}[]()^~:+-!/",
    "\x00\x01\x02 control \x1b[31m",
    "\u202e right-to-left override",
    "\ud800 lone surrogate",
    "emoji 🧪🔬 test",
    "x" * 10_000,
    "transformer " * 2_000,
    "a" * 300,
    "<script>alert(1)</script>",
    "'; drop table papers; --",
    "field:value:more",
    "https://arxiv.org/abs/2312.00752",
    "日本語の論文",
]


def test_words_phrases_and_operators():
    q = parse('state space models "selective scan" author:"Albert Gu" cat:cs.LG after:2023-06 -diffusion')
    assert q.terms == ("state", "space", "models")
    assert q.phrases == ("selective scan",)
    assert q.authors == ("Albert Gu",)
    assert q.categories == ("cs.LG",)
    assert q.after == date(2023, 6, 1)
    assert q.excluded == ("diffusion",)
    assert q.text == "state space models selective scan"


def test_aliases_negation_and_dates():
    q = parse('au:hinton -au:lecun category:cs -cat:cs.CV before:2020 since:2019-02-03 -"neural ode"')
    assert q.authors == ("hinton",) and q.excluded_authors == ("lecun",)
    assert q.categories == ("cs",) and q.excluded_categories == ("cs.CV",)
    assert q.before == date(2020, 1, 1) and q.after == date(2019, 2, 3)
    assert q.excluded == ("neural ode",)
    assert q.text == ""


def test_unknown_fields_and_bad_dates_are_text():
    q = parse("http://x.org after:yesterday")
    assert q.terms == ("http://x.org", "yesterday")
    assert q.after is None


def test_unclosed_quote_runs_to_the_end():
    assert parse('graph "neural networks').phrases == ("neural networks",)


def test_api_filters_narrow_the_query():
    q = parse("after:2020 cat:cs.LG").with_filters("stat.ML", after=date(2021, 1, 1), before=date(2022, 1, 1))
    assert q.categories == ("cs.LG", "stat.ML")
    assert q.after == date(2021, 1, 1) and q.before == date(2022, 1, 1)


def test_long_input_is_capped():
    q = parse("word " * 10_000)
    assert len(q.terms) <= 64
    assert len(q.text) <= MAX_QUERY_CHARS


@pytest.fixture(scope="module")
def tiny_index(tmp_path_factory):
    index = keyword.open_index(tmp_path_factory.mktemp("kw"))
    writer = index.writer(keyword.WRITER_HEAP)
    papers = [
        ("2312.00752", "Mamba: Linear-Time Sequence Modeling with Selective State Spaces",
         "Foundation models are based on the Transformer. We propose a selective state space model.",
         ["Albert Gu", "Tri Dao"], ["cs.LG", "cs.AI"], datetime(2023, 12, 1)),
        ("2105.05233", "Diffusion Models Beat GANs on Image Synthesis",
         "We show that diffusion models can achieve image sample quality superior to the state of the art.",
         ["Prafulla Dhariwal", "Alex Nichol"], ["cs.LG", "cs.CV"], datetime(2021, 5, 11)),
        ("1706.03762", "Attention Is All You Need",
         "The dominant sequence transduction models are based on recurrent or convolutional networks.",
         ["Ashish Vaswani", "Noam Shazeer"], ["cs.CL", "cs.LG"], datetime(2017, 6, 12)),
    ]
    for key, (arxiv_id, title, abstract, authors, cats, published) in enumerate(papers, start=1):
        writer.add_document(keyword.document(key, arxiv_id, title, abstract, authors, cats, published))
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    return index


@pytest.mark.parametrize("text", NASTY)
def test_nasty_strings_never_raise(tiny_index, text):
    q = parse(text)
    assert isinstance(q, ParsedQuery)
    hits = keyword.search(tiny_index, q, 10, count=True)
    assert len(hits.keys) <= 3


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_fuzzed_text_never_raises(tiny_index, text):
    keyword.search(tiny_index, parse(text), 10, count=True)


SYNTAX = st.sampled_from(['"', "-", ":", "author:", "cat:", "after:", "before:", "*", "(", ")",
                          "NEAR(", "AND", "OR", "2024-01-01", "cs.LG", "state", "space", " ", "\\", "^"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(SYNTAX, max_size=30).map("".join))
def test_fuzzed_operators_never_raise(tiny_index, text):
    keyword.search(tiny_index, parse(text), 10, count=True)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("state space model", ["2312.00752"]),  # any word; the best match first
        ('"state space model"', ["2312.00752"]),
        ('"state of the art"', ["2105.05233"]),  # stop words keep their place in a phrase
        ('"space state"', []),
        ("author:gu", ["2312.00752"]),
        ('author:"alex nichol"', ["2105.05233"]),
        ("models cat:cs.CV", ["2105.05233"]),
        ("cat:cs.cl", ["1706.03762"]),
        ("models -diffusion -mamba", ["1706.03762"]),
        ("models -cat:cs.LG", []),
        ("models after:2021 before:2022", ["2105.05233"]),
        ("after:2023-06-01", ["2312.00752"]),
        ("models before:2017-06-12", []),
    ],
)
def test_operators(tiny_index, text, expected):
    ids = {1: "2312.00752", 2: "2105.05233", 3: "1706.03762"}
    hits = keyword.search(tiny_index, parse(text), 10)
    got = [ids[int(k)] for k in hits.keys]
    assert got[: len(expected)] == expected
    if not expected or text.startswith('"') or ":" in text:
        assert got == expected


def test_filters_alone_list_newest_first(tiny_index):
    hits = keyword.search(tiny_index, parse("cat:cs.LG"), 10, count=True)
    assert hits.keys.tolist() == [1, 2, 3] and hits.total == 3


def test_highlighting_escapes_and_marks(tiny_index):
    marker = keyword.Highlighter(tiny_index, parse("diffusion <b>"))
    assert marker.title("Diffusion <b>models</b>") == "<mark>Diffusion</mark> &lt;b&gt;models&lt;/b&gt;"
    assert marker.abstract("x & y") == "x &amp; y"
