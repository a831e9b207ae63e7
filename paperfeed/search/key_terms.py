"""
Key terms: a handful of phrases that say what a paper is about, shown as chips
that search for them.

Candidates are the word n-grams (one to three words) of the title and abstract
made only of words that are no stop words, with no punctuation, number or math
between them: the noun-phrase approximation of RAKE (Rose et al. 2010),
without a part-of-speech tagger (none installs offline).  Each candidate is
scored KeyBERT-style (Grootendorst 2020): the cosine between its embedding,
made by the encoder that made the paper's vector, and the paper's vector; then
Maximal Marginal Relevance (Carbonell & Goldstein 1998) picks `COUNT` of the
best `POOL` so the chips do not repeat one idea.  `benchmarks/key_terms.py`
measures it against tf-idf over the same candidates (RESULTS.md).

`Batch` serves a chunk of the indexer at once: its `phrases` (each distinct
candidate once) are embedded in the same encoder call as the papers, and
`choose` then reads every paper's terms off the two sets of vectors.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

COUNT = 5  # chips per paper
POOL = 20  # best candidates MMR chooses from
DIVERSITY = 0.5  # MMR's trade-off: 0 = relevance only, 1 = novelty only
MAX_WORDS = 3
MAX_CANDIDATES = 40  # per paper, the most frequent first: bounds the encoder's work
MAX_TERM_CHARS = 60
MAX_WORD_CHARS = 40  # longer "words" are formulas, identifiers or base64

# Words that are in no key term: English stop words (scikit-learn's list, without
# importing scikit-learn for it) and the verbs and fillers of abstracts.
_FILLER = """
paper papers work works study studies approach approaches method methods result results propose proposes
proposed present presents presented show shows shown showed demonstrate demonstrates demonstrated
introduce introduces introduced investigate investigates investigated consider considers considered
obtain obtains obtained achieve achieves achieved provide provides provided use uses used using based
new novel recent recently different various existing also able allow allows allowed given finally
particular particularly significant significantly respectively known finds make makes making way ways
number numbers problem problems lead leads leading develop develops developed including include
includes describes described discuss discusses discussed report reports reported argue argues
analyze analyzed analyse analysed generally typically usually specific specifically important
large small high low higher lower good better best simple simply main key effective efficiently
compared compare comparison strong stronger current currently possible type types case cases order
aim aims called whose like improve improves improved improving increase increases increased reduce
reduces reduced enable enables enabled perform performs performed require requires required remain
remains thereby widely commonly directly respect associated related corresponding available
additionally specifically existing certain considerable extensive following previous previously
addition evaluate evaluates evaluated achieving providing yields yield yielded outperform
outperforms outperformed propose proposing explore explores explored investigating presenting
""".split()
_STOP = frozenset(
    """a about above across after afterwards again against all almost alone along already also although
    always am among amongst amoungst amount an and another any anyhow anyone anything anyway anywhere are
    around as at back be became because become becomes becoming been before beforehand behind being below
    beside besides between beyond bill both bottom but by call can cannot cant co con could couldnt cry de
    describe detail do done down due during each eg eight either eleven else elsewhere empty enough etc
    even ever every everyone everything everywhere except few fifteen fifty fill find fire first five for
    former formerly forty found four from front full further get give go had has hasnt have he hence her
    here hereafter hereby herein hereupon hers herself him himself his how however hundred i ie if in inc
    indeed interest into is it its itself keep last latter latterly least less ltd made many may me
    meanwhile might mill mine more moreover most mostly move much must my myself name namely neither never
    nevertheless next nine no nobody none noone nor not nothing now nowhere of off often on once one only
    onto or other others otherwise our ours ourselves out over own part per perhaps please put rather re
    same see seem seemed seeming seems serious several she should show side since sincere six sixty so
    some somehow someone something sometime sometimes somewhere still such system take ten than that the
    their them themselves then thence there thereafter thereby therefore therein thereupon these they
    thick thin third this those though three through throughout thru thus to together too top toward
    towards twelve twenty two un under until up upon us very via was we well were what whatever when
    whence whenever where whereafter whereas whereby wherein whereupon wherever whether which while whither
    who whoever whole whom whose why will with within without would yet you your yours yourself
    yourselves""".split()
) | frozenset(_FILLER)

_MATH = re.compile(r"\$[^$]*\$|\\\(.*?\\\)|\\\[.*?\\\]")  # TeX math is never a chip
_URL = re.compile(r"\b(?:https?://|www\.)\S+")
# A word: letters, then letters, digits, apostrophes and inner hyphens ("GPT-4",
# "state-space"); anything else (punctuation, numbers, TeX commands) ends a phrase.
_TOKEN = re.compile(r"\\?[^\W\d_](?:[\w'-]*\w)?|\S")
_WORD = re.compile(r"[^\W\d_](?:[\w'-]*\w)?")
_SENTENCE_END = frozenset(".!?:")


@dataclass(frozen=True)
class Candidate:
    text: str  # as shown: lower case unless the paper writes it otherwise mid-sentence
    key: str  # lower case: one candidate however it is written
    count: int  # occurrences in title and abstract (the title's counting twice)
    first: int  # position of the first occurrence, in words


def _runs(text: str) -> list[list[tuple[str, bool]]]:
    """Runs of (word, whether its capital means nothing) between punctuation, numbers and math."""
    text = _URL.sub(" . ", _MATH.sub(" . ", text))
    runs: list[list[tuple[str, bool]]] = [[]]
    initial = True  # the next word starts a sentence
    for token in _TOKEN.findall(text):
        if _WORD.fullmatch(token) and len(token) <= MAX_WORD_CHARS:
            runs[-1].append((token, initial))
            initial = False
            continue
        if runs[-1]:
            runs.append([])
        initial = initial or token in _SENTENCE_END
    return [r for r in runs if r]


def _title_case(title: str) -> bool:
    """Whether most of the title's longer words are capitalised ("Selective State Spaces")."""
    words = [w for w in _WORD.findall(title) if len(w) > 3]
    return bool(words) and sum(w[0].isupper() for w in words) >= 0.6 * len(words)


class _Tally:
    """Counts, first positions and spellings of one paper's candidates."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.first: dict[str, int] = {}
        self.spellings: dict[str, dict[str, int]] = {}  # where capitals mean something
        self.any_spelling: dict[str, str] = {}

    def add(self, run: list[tuple[str, bool]], start: int, n: int, weight: int, position: int,
            blind: bool) -> None:
        """Count the n words of `run` from `start`; `blind`: their capitals say nothing."""
        key = " ".join(w.lower() for w, _ in run[start : start + n])
        if len(key) > MAX_TERM_CHARS:
            return
        self.counts[key] = self.counts.get(key, 0) + weight
        self.first.setdefault(key, position)
        form = " ".join(w for w, _ in run[start : start + n])
        self.any_spelling.setdefault(key, form)
        if not (blind or run[start][1]):
            spelled = self.spellings.setdefault(key, {})
            spelled[form] = spelled.get(form, 0) + 1

    def shown(self, key: str) -> str:
        """Lower case when the paper writes it so; else its most frequent spelling
        mid-sentence ("BERT", "Monte Carlo"); else (seen only where any word is
        capitalised) lower case but for acronyms ("LHC", "GPT-4")."""
        forms = self.spellings.get(key)
        if forms:
            return key if key in forms else max(forms.items(), key=lambda kv: (kv[1], kv[0]))[0]
        return " ".join("-".join(p if any(ch.isupper() for ch in p[1:]) else p.lower() for p in w.split("-"))
                        for w in self.any_spelling[key].split())


def candidates(title: str | None, abstract: str | None) -> list[Candidate]:
    """The paper's candidate phrases, most frequent first (then earliest)."""
    tally = _Tally()
    position = 0
    title_case = _title_case(title or "")
    for weight, text, blind in ((2, title or "", title_case), (1, abstract or "", False)):
        for run in _runs(text):
            content = [w.lower() not in _STOP for w, _ in run]
            for i in range(len(run)):
                for n in range(1, MAX_WORDS + 1):
                    if i + n > len(run) or not content[i + n - 1]:
                        break  # a stop word ends every phrase through it
                    if n == 1 and len(run[i][0]) < 3:
                        continue
                    tally.add(run, i, n, weight, position + i, blind)
            position += len(run)
    out = [Candidate(tally.shown(k), k, tally.counts[k], tally.first[k]) for k in tally.counts]
    out.sort(key=lambda c: (-c.count, c.first))
    return out


def mmr(doc: np.ndarray, cands: np.ndarray, count: int = COUNT, diversity: float = DIVERSITY) -> list[int]:
    """Rows of `cands` (unit vectors) chosen by Maximal Marginal Relevance to `doc`."""
    if len(cands) == 0:
        return []
    relevance = cands @ doc
    chosen = [int(np.argmax(relevance))]
    pairwise = cands @ cands.T
    while len(chosen) < min(count, len(cands)):
        redundancy = pairwise[:, chosen].max(axis=1)
        score = (1 - diversity) * relevance - diversity * redundancy
        score[chosen] = -np.inf
        chosen.append(int(np.argmax(score)))
    return chosen


def without_overlaps(terms: Sequence[Candidate]) -> list[Candidate]:
    """Drop a term inside another one ("scan" beside "selective scan")."""
    keys = [t.key for t in terms]
    return [t for t in terms if not any(t.key != k and f" {t.key} " in f" {k} " for k in keys)]


def choose(doc: np.ndarray, cands: Sequence[Candidate], vecs: np.ndarray, count: int = COUNT) -> list[str]:
    """The `count` terms of one paper from its candidates and their unit vectors, best first."""
    if not cands:
        return []
    pool = np.argsort(-(vecs @ doc), kind="stable")[:POOL]
    picked = [cands[pool[i]] for i in mmr(doc, vecs[pool], count + 2)]
    return [t.text for t in without_overlaps(picked)][:count]


@dataclass
class Batch:
    """The candidates of many papers and the distinct phrases to embed for them."""

    per_paper: list[list[Candidate]]
    phrases: list[str]

    @classmethod
    def of(cls, papers: Sequence[tuple[str | None, str | None]]) -> Batch:
        """Candidates of each (title, abstract), at most `MAX_CANDIDATES`, the most frequent first."""
        per_paper = [candidates(title, abstract)[:MAX_CANDIDATES] for title, abstract in papers]
        return cls(per_paper, list(dict.fromkeys(c.key for cands in per_paper for c in cands)))

    def choose(self, doc_vecs: np.ndarray, phrase_vecs: np.ndarray, count: int = COUNT) -> list[list[str]]:
        """Each paper's terms, given its unit vector (a row each) and those of `phrases`."""
        row = {key: i for i, key in enumerate(self.phrases)}
        out = []
        for cands, doc in zip(self.per_paper, np.asarray(doc_vecs, np.float32), strict=True):
            vecs = np.asarray(phrase_vecs, np.float32)[[row[c.key] for c in cands]]
            out.append(choose(doc, cands, vecs, count))
        return out


def extract(papers: Sequence[tuple[str | None, str | None]], doc_vecs: np.ndarray, encoder,
            count: int = COUNT) -> list[list[str]]:
    """Key terms of each (title, abstract), given the papers' unit vectors and the encoder that made them."""
    batch = Batch.of(papers)
    phrase_vecs = encoder.encode_documents(batch.phrases) if batch.phrases else np.empty((0, doc_vecs.shape[1]))
    return batch.choose(doc_vecs, phrase_vecs, count)
