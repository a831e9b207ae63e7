"""
What can go wrong in search, as exceptions that need none of its heavy libraries.

They live apart from the modules that raise them (store, vectors, indexer, encoder), so
a caller can name them in `except` clauses (`paperfeed.search.IndexNotBuilt`)
in an install without the `search` extra, where those modules cannot load.
"""

from __future__ import annotations

from pathlib import Path

EXTRA_HINT = "pip install 'paperfeed[search]'"


class IndexNotBuilt(RuntimeError):
    """No finished index generation to serve yet."""

    def __init__(self, root: Path) -> None:
        super().__init__(f"no search index in {root}: run `paperfeed index` first")


class EncoderMismatch(RuntimeError):
    """The index was built by another embedding model than the one asked to use it."""

    def __init__(self, index_model: str, encoder_model: str) -> None:
        super().__init__(
            f"the search index was built with embedding model {index_model!r}, but the configured "
            f"encoder is {encoder_model!r}; vectors of two models cannot be compared. "
            "Run `paperfeed index --rebuild` to re-embed every paper with the new model "
            "(or set PAPERFEED_EMBEDDING_MODEL / PAPERFEED_EMBEDDING_VARIANT back)."
        )
        self.index_model = index_model
        self.encoder_model = encoder_model


class EncoderError(RuntimeError):
    """A model that cannot be found, loaded or exported, said in one readable line."""


class IndexBusy(RuntimeError):
    """Another `paperfeed index` holds the index lock."""


def missing_extra(exc: ImportError) -> str:
    """One line for an install without the `search` extra: what is missing, how to add it."""
    name = getattr(exc, "name", None) or str(exc)
    return f"search is not installed ({name} is missing): {EXTRA_HINT}"
