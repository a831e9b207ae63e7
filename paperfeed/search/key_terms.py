"""
Key terms: a handful of phrases that say what a paper is about, shown as chips
that search for them.

Candidates are the word n-grams (one to three words) of the title and abstract
made only of words that are no stop words, with no punctuation, number or math
between them: the noun-phrase approximation of RAKE (Rose et al. 2010),
without a part-of-speech tagger (none installs offline).  Each is scored by
tf-idf over the corpus, longer phrases favoured as in C-value (Frantzi et al.
2000):

    score = count * idf * (1 + log2 words),   idf = ln((1 + N) / (1 + df)) + 1

where `count` counts the title's occurrences twice, `N` is the number of
papers and `df` the document frequency of the phrase's rarest word (a phrase
is as specific as its most specific word; scikit-learn's smoothed idf).  The
best `COUNT` are taken greedily, skipping one that shares a word with a term
already taken ("cerebral white matter" leaves out "central white matter").

`benchmarks/key_terms.py` measured this against KeyBERT-style scoring
(Grootendorst 2020: cosine of the candidate's embedding with the paper's, then
Maximal Marginal Relevance) over the same candidates: a search for a tf-idf
term finds its paper in the top 10 more often (0.92 against 0.80 on SciFact),
at a fortieth of the cost and with no encoder (RESULTS.md).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

COUNT = 5  # chips per paper, at most
MIN_COUNT = 3  # ... and at least, when the paper has that many candidates
MIN_SHARE = 0.5  # past MIN_COUNT, a term must score half the best (SciFact: hit@10 0.92, against 0.89 for always 5)
MAX_WORDS = 3
MAX_CANDIDATES = 40  # per paper, the most frequent first: bounds the work for a long abstract
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


def idf(doc_freq: int, docs: int) -> float:
    """scikit-learn's smoothed inverse document frequency."""
    return math.log((1 + docs) / (1 + doc_freq)) + 1


def choose(cands: Sequence[Candidate], word_df: Callable[[str], int], docs: int, count: int = COUNT) -> list[str]:
    """The `count` best terms of one paper among its candidates, best first; `word_df`
    gives a lower-case word's document frequency among `docs` papers."""

    def score(c: Candidate) -> float:
        words = c.key.split()
        return c.count * idf(min(word_df(w) for w in words), docs) * (1 + math.log2(len(words)))

    taken: list[str] = []
    used: set[str] = set()
    scored = sorted(((score(c), c) for c in cands), key=lambda sc: -sc[0])
    for s, c in scored:
        words = set(c.key.split())
        if words & used:
            continue
        if len(taken) >= MIN_COUNT and s < MIN_SHARE * scored[0][0]:
            break  # a weak fifth term is a chip that finds nothing in particular
        taken.append(c.text)
        used |= words
        if len(taken) == count:
            break
    return taken


def extract(papers: Sequence[tuple[str | None, str | None]], word_df: Callable[[str], int], docs: int,
            count: int = COUNT) -> list[list[str]]:
    """Key terms of each (title, abstract), with document frequencies from `word_df`."""
    return [choose(candidates(title, abstract)[:MAX_CANDIDATES], word_df, docs, count) for title, abstract in papers]
