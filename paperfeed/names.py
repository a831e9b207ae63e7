"""
Folding names and titles into the keys the library looks papers up by.

An author's key is their full name as written on the paper, with accents, case
and punctuation folded ("Albert Gu", "ALBERT GU" and "Álbert  Gu" are `albert gu`),
so namesakes with the same full name are merged and "A. Gu" (`a gu`) is another
key.  `short_key` (surname and first initial, `gu a`) groups the keys that may be
the same person.  A title's key folds the same way, after LaTeX markup is dropped,
so a Zotero export's `{Attention} {Is} {All} You Need` or `Koll{\\'a}r` finds the
stored "Attention Is All You Need" or "Kollár".

A leaf module (standard library only): the ingest upsert fills the author and
title index with these keys, and everything else in the library reads them.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

MAX_KEY = 300  # the length of `follows.key` and `paper_authors.key`

# letters NFKD does not decompose into a base letter and a combining mark
_LETTERS = str.maketrans({
    "ß": "ss", "ẞ": "ss", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ø": "o", "Ø": "o",
    "ł": "l", "Ł": "l", "đ": "d", "Đ": "d", "ð": "d", "Ð": "d", "þ": "th", "Þ": "th", "ı": "i",
})
_APOSTROPHES = re.compile(r"['’‘`´]")  # O'Brien and OBrien are one name
# LaTeX: accents (\'a, \"{o}, \v{c}, \c c) and font commands (\emph, \mathrm) vanish,
# special letters become theirs, other commands (\alpha) their name; Zotero writes a
# title's backslash as {\textbackslash}, which vanishes too, so both spellings agree
_LATEX_DROP = re.compile(
    r"\\(?:[`'^\"~=.]|[uvHckbdtr](?![A-Za-z])"
    r"|(?:textbackslash|emph|text[a-z]{2}|math[a-z]{2,4}|boldsymbol|rm|it|bf|sf|tt|sc)(?![A-Za-z]))\s*"
)
_LATEX_LETTER = re.compile(r"\\(ss|o|O|ae|AE|oe|OE|l|L|i|j|aa|AA)(?![A-Za-z])\s*")
_LATEX_LETTERS = {"aa": "a", "AA": "a"}
_LATEX_NAME = re.compile(r"\\([A-Za-z]+)\s*")
_BRACES = str.maketrans("", "", "{}$\\")  # grouping, math and escapes, dropped inside words
_NOT_WORD = re.compile(r"[\W_]+")
_SUFFIXES = {"jr", "sr", "ii", "iii", "iv"}
# the same folding for ASCII text as bytes: every byte but a letter or digit is a space,
# apostrophes and LaTeX grouping vanish; a few times faster, and the ingest folds every name
_ASCII_SPACES = bytes.maketrans(
    bytes(b for b in range(128) if not chr(b).isalnum()), b" " * sum(not chr(b).isalnum() for b in range(128))
)
_ASCII_DROP = b"'`{}$\\"


def fold(text: str) -> str:
    """`text` lower-cased, accents and LaTeX markup dropped, punctuation as single spaces."""
    if "\\" in text:
        text = _LATEX_DROP.sub("", text)
        text = _LATEX_LETTER.sub(lambda m: _LATEX_LETTERS.get(m[1], m[1]), text)
        text = _LATEX_NAME.sub(r" \1 ", text)
    if text.isascii():
        return " ".join(text.encode().lower().translate(_ASCII_SPACES, _ASCII_DROP).decode().split())
    text = unicodedata.normalize("NFKD", text.translate(_BRACES).translate(_LETTERS))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _APOSTROPHES.sub("", text.casefold())
    return _NOT_WORD.sub(" ", text).strip()


def author_key(name: str) -> str:
    """The key an author is indexed and followed under: the folded full name.

    "Gu, Albert" (BibTeX's order) is "Albert Gu"; a suffix after the comma
    ("Gu, Jr.") is not a first name.

    >>> author_key("Albert Gu"), author_key("A. Gu"), author_key("Gu, Albert")
    ('albert gu', 'a gu', 'albert gu')
    """
    if name.count(",") == 1:
        last, first = (p.strip() for p in name.split(","))
        if first and last and fold(first) not in _SUFFIXES:
            name = f"{first} {last}"
    return fold(name)[:MAX_KEY]


def short_key(key: str) -> str:
    """Surname and first initial of an author key (`albert gu` → `gu a`): who may be the same person."""
    first, _, surname = key.partition(" ")
    if not surname:
        return first
    if surname.rpartition(" ")[2] in _SUFFIXES:
        surname = surname.rpartition(" ")[0] or surname
    return f"{surname.rpartition(' ')[2]} {first[0]}"


def title_key(title: str) -> str:
    """A title folded for exact matching: `{BERT}: Pre-training…` and `BERT: pre-training…` agree."""
    return fold(title)


def title_hash(title: str) -> str | None:
    """The indexed form of `title_key` (a hash: titles may be longer than an index entry may be)."""
    key = title_key(title)
    if not key:
        return None
    return hashlib.md5(key.encode(), usedforsecurity=False).hexdigest()
