"""
Reading untrusted XML (arXiv API feeds, OAI-PMH responses) safely and in constant memory.

`elements()` streams the elements a reader asks for with lxml's iterparse,
configured so that nothing is ever expanded or fetched: entity references stay
unresolved, no DTD is loaded, no network is touched and libxml2's size limits
stay on.  On top of that, any document that carries a DOCTYPE is refused
before parsing starts (its first bytes are scanned; libxml2 would otherwise
expand declared entities to check them, up to its amplification limit) —
neither arXiv's API nor its OAI-PMH endpoint ever sends one, and a DOCTYPE is
exactly where billion-laughs and external-entity (`SYSTEM "file:///etc/passwd"`)
attacks live.  A document
that breaks off (truncated download, half-written file) yields everything
complete before the break, then a `Reject` naming the line where it broke.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from lxml import etree

from paperfeed.ingest.records import Reject

HEAD = 64 * 1024  # bytes scanned for a DOCTYPE before parsing; a prolog is never this long
ENTITIES_REFUSED = "XML declares entities in a DOCTYPE; refused without expanding or fetching them"
DOCTYPE_REFUSED = "XML has a DOCTYPE declaration, which arXiv responses never carry; refused"
_ELEMENT_START = re.compile(rb"<[A-Za-z_]")  # the root element's start tag ends the prolog


def elements(f: BinaryIO, origin: str, tags: Iterable[str]) -> Iterator[etree._Element | Reject]:
    """Yield each element named in `tags` once it is complete, then free it.

    The caller must finish with an element before asking for the next one: it
    is cleared, with the siblings before it, as soon as the generator resumes,
    which keeps memory flat on a file of any size.  Problems with the document
    as a whole come out as `Reject`s (after which nothing more is yielded).
    """
    head = f.read(HEAD)
    refusal = _prolog_refusal(head)
    if refusal:  # refused before libxml2 sees a byte: nothing is expanded, not even to check it
        yield Reject(origin, "document", refusal)
        return
    parser = etree.iterparse(
        _Prefixed(head, f),
        events=("end",),
        tag=list(tags),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    checked = False
    try:
        for _, elem in parser:
            if not checked:
                # Second line of defence, for prologs the byte scan cannot read (exotic
                # encodings): by the first event the DOCTYPE, if any, is parsed, and
                # entity resolution is off, so nothing has been expanded into the tree.
                refusal = _doctype_refusal(elem.getroottree().docinfo)
                if refusal:
                    yield Reject(origin, "document", refusal)
                    return
                checked = True
            yield elem
            elem.clear(keep_tail=False)
            parent = elem.getparent()
            if parent is not None:
                while elem.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as e:
        line = e.lineno or (e.position[0] if e.position else 0)
        yield Reject(origin, f"line {line}", f"XML document broken at line {line}: {e.msg}")
        return
    if not checked and getattr(parser, "root", None) is not None:
        refusal = _doctype_refusal(parser.root.getroottree().docinfo)
        if refusal:
            yield Reject(origin, "document", refusal)


def _prolog_refusal(head: bytes) -> str | None:
    """Why a document must be refused, judged from its first bytes (None: go ahead)."""
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in head[:4]:
        head = head.decode("utf-16", "ignore").encode("utf-8")
    root = _ELEMENT_START.search(head)
    prolog = head[: root.start()] if root else head
    if b"<!DOCTYPE" not in prolog:
        return None
    if b"<!ENTITY" in prolog:
        return ENTITIES_REFUSED
    return DOCTYPE_REFUSED


def _doctype_refusal(docinfo) -> str | None:
    if not docinfo.doctype and docinfo.internalDTD is None:
        return None
    dtd = docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        return ENTITIES_REFUSED
    return DOCTYPE_REFUSED


class _Prefixed:
    """A binary stream that gives back the bytes already read from it, then the rest."""

    def __init__(self, head: bytes, rest: BinaryIO):
        self.head, self.rest = head, rest

    def read(self, n: int = -1) -> bytes:
        if not self.head:
            return self.rest.read(n)
        if n is None or n < 0:
            out, self.head = self.head + self.rest.read(), b""
        else:
            out, self.head = self.head[:n], self.head[n:]
        return out


def child_text(elem: etree._Element, tag: str) -> str | None:
    """The text of `elem`'s first child named `tag` (namespaced), or None."""
    child = elem.find(tag)
    if child is None:
        return None
    return "".join(child.itertext())
