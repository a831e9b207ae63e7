"""
The models "For you" was measured against: linear classifiers over a whole window.

- `asl_svm`: arxiv-sanity-lite's recommendation exactly as its `serve.py`
  `svm_rank` does it: a `LinearSVC(class_weight='balanced', C=0.01, tol=1e-6,
  max_iter=10000)` on its tf-idf features (`terms.asl_space`), the library as
  positives and every other paper (the rest of the window) as negatives,
  papers ranked by the decision function.
- `logistic`: logistic regression on the embeddings, the library as positives,
  a random sample of the window plus the "not interested" papers as negatives.

Both fit a model per reader and request, which costs too much at a week's
scale (benchmarks/recommend_scale.py), and neither decomposes a score into
saved papers, so they are not behind `rank`; the benchmark compares them with
`fit.score` in one run.  scikit-learn is imported on first use.
"""

from __future__ import annotations

import numpy as np

ASL_SVM = dict(class_weight="balanced", verbose=False, max_iter=10_000, tol=1e-6, C=0.01)


def asl_svm(x, positive_rows, C: float = ASL_SVM["C"]) -> np.ndarray:
    """Decision values for every row of tf-idf matrix `x`, positives = `positive_rows`."""
    from sklearn.svm import LinearSVC

    y = np.zeros(x.shape[0], np.float32)
    y[np.asarray(positive_rows, np.int64)] = 1.0
    if y.sum() == 0 or y.sum() == len(y):
        return np.zeros(x.shape[0], np.float32)
    clf = LinearSVC(**{**ASL_SVM, "C": C})
    clf.fit(x, y)
    return clf.decision_function(x).astype(np.float32)


def logistic(vectors: np.ndarray, positive_rows, negative_rows=(), *, sample: int = 1000,
             C: float = 1.0, seed: int = 0) -> np.ndarray:
    """Decision values for every row of `vectors` from a logistic regression on embeddings.

    Negatives: `sample` random rows that are not positives, plus `negative_rows`
    (dismissed papers).  Classes are balanced (a library is a few papers).
    """
    from sklearn.linear_model import LogisticRegression

    pos = np.unique(np.asarray(positive_rows, np.int64))
    if len(pos) == 0:
        return np.zeros(len(vectors), np.float32)
    rng = np.random.default_rng(seed)
    others = np.setdiff1d(np.arange(len(vectors)), pos)
    neg = rng.choice(others, size=min(sample, len(others)), replace=False)
    neg = np.union1d(neg, np.setdiff1d(np.asarray(negative_rows, np.int64), pos))
    x = np.concatenate([vectors[pos], vectors[neg]])
    y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    clf = LogisticRegression(C=C, class_weight="balanced", max_iter=1000)
    clf.fit(x, y)
    return clf.decision_function(vectors).astype(np.float32)
