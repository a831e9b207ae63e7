"""
The "For you" test corpus: a reader's library of three state-space papers
published long before the window, and a window of eight new papers (three on
that topic, one of them much upvoted; five on other topics), written through
the real upsert and indexed with the real search index.  The page, feed, API
and browser tests read it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from paperfeed.library import saved
from tests.webdata import add_paper

NOW = datetime.now(UTC)
OLD = NOW - timedelta(days=400)
# the reader's library: three papers on state space models, long before the window
SAVED = [
    ("2312.00752", "Mamba: Linear-Time Sequence Modeling with Selective State Spaces",
     "We propose a selective state space model for sequence modeling with a hardware-aware parallel scan, "
     "matching Transformers on language modeling with linear time in sequence length."),
    ("2111.00396", "Efficiently Modeling Long Sequences with Structured State Spaces",
     "The structured state space sequence model S4 addresses long-range dependencies in sequence modeling "
     "across modalities with a state space parameterisation."),
    ("2208.04933", "Simplified State Space Layers for Sequence Modeling",
     "We introduce the S5 layer, a multi-input multi-output state space model for long sequence modeling "
     "using a parallel scan."),
]
# the window: three new state-space papers (one much upvoted) and papers on other topics
ON_TOPIC = [
    ("2611.00001", "Selective State Space Models for Long-Context Language Modeling",
     "A selective state space model scales sequence modeling to million-token contexts with a parallel scan.", 50),
    ("2611.00002", "State Space Sequence Models for Raw Audio",
     "We apply structured state space sequence models to long raw audio waveforms.", 0),
    ("2611.00003", "Linear-Time Sequence Modeling with Diagonal State Spaces",
     "Diagonal state space layers match structured state spaces on long sequence modeling benchmarks.", 1),
]
OFF_TOPIC = [
    ("2611.00004", "Galaxy Cluster Masses from Weak Gravitational Lensing",
     "We measure the masses of galaxy clusters using weak lensing shear profiles from survey imaging.", 0),
    ("2611.00005", "Protein Structure Prediction with Evolutionary Couplings",
     "Coevolution of residues in protein families predicts contacts and the folded three-dimensional structure.", 0),
    ("2611.00006", "Graph Colouring Bounds for Sparse Random Graphs",
     "We prove new upper bounds on the chromatic number of sparse Erdos-Renyi random graphs.", 0),
    ("2611.00007", "Supergravity Solutions with Anti-de Sitter Asymptotics",
     "We construct supergravity solutions in five dimensions that approach anti-de Sitter spacetime.", 0),
    ("2611.00008", "Monetary Policy Shocks and Household Consumption",
     "Household survey data show how interest rate shocks change consumption of durable goods.", 0),
]
TOPIC = {p[0] for p in ON_TOPIC}


def load(engine: Engine) -> None:
    """The library's and the window's papers, indexed (the search extra and its model are needed)."""
    from paperfeed import search

    for arxiv_id, title, abstract in SAVED:
        add_paper(engine, arxiv_id, title, abstract=abstract, published=OLD)
    for n, (arxiv_id, title, abstract, votes) in enumerate(ON_TOPIC + OFF_TOPIC):
        add_paper(engine, arxiv_id, title, abstract=abstract, published=NOW - timedelta(days=1, hours=n),
                  day=(NOW - timedelta(days=1)).date() if votes else None, upvotes=votes,
                  authors=[f"Author {n}"])
    search.update_index(engine)


def save_library(engine, uid):
    with engine.begin() as conn:
        for arxiv_id, _, _ in SAVED:
            saved.save(conn, uid, arxiv_id)
