"""
Bringing a library in and taking it out, on the web: the import page
(`/library/import`: a BibTeX, CSV or JSON file, or pasted arXiv ids and URLs,
into a chosen collection) with its report, and the downloads of the whole
library or one collection as BibTeX, CSV or JSON (`/library/export.bib`, …).

The work is `paperfeed.library.importer` and `exporter`; what the web adds is
bounds: a file of at most `importer.MAX_BYTES` (25 MB; the upload's body-size
limit is raised for this path prefix alone), at most `paste.MAX_PASTE` pasted
ids (the rest reported), and at most `FETCH_LIMIT` unknown papers fetched from
arXiv per import with a short timeout (the rest reported as not fetched:
`paperfeed library import` fetches any number).  A bad file is a message on
the import page; the import saves in one transaction, so nothing already saved
is lost.  Downloads are for their owner alone: anyone else gets 404.
"""

from __future__ import annotations

import logging
import re
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response

from paperfeed.library import collection as coll
from paperfeed.library import exporter, importer, paste
from paperfeed.library.entries import DUPLICATE, FETCHED, MALFORMED, NOT_FETCHED, UNMATCHED
from paperfeed.library.errors import LibraryError, NotFound
from paperfeed.web import accounts
from paperfeed.web.security import FriendlyError
from paperfeed.web.templating import render

log = logging.getLogger("paperfeed.web")
router = APIRouter(include_in_schema=False)  # pages, not API: kept out of the OpenAPI schema

IMPORT = "/library/import"  # the body-size middleware allows uploads of MAX_BYTES under this prefix
FETCH_LIMIT = 20  # unknown papers fetched from arXiv per web import
FETCH_TIMEOUT = 10.0  # seconds per arXiv request
EXPORTS = {"bib": ("bibtex", "application/x-bibtex"), "csv": ("csv", "text/csv"), "json": ("json", "application/json")}
STATUS_LABELS = {
    UNMATCHED: "Not matched", NOT_FETCHED: "Not fetched", DUPLICATE: "Duplicate", MALFORMED: "Malformed",
}


def _import_page(request: Request, user, *, error: str | None = None, report=None, status: int = 200,
                 target=None, paste_text: str = "") -> Response:
    with request.app.state.engine.begin() as conn:
        coll.default_collection(conn, user.id)
        collections = coll.list_collections(conn, user.id)
    context = {
        "nav": "library",
        "collections": collections,
        "error": error,
        "report": report,
        "target": target,
        "paste_text": paste_text,
        "max_mb": importer.MAX_BYTES // (1024 * 1024),
        "max_paste": paste.MAX_PASTE,
        "fetch_limit": FETCH_LIMIT,
        "status_labels": STATUS_LABELS,
        "fetched_status": FETCHED,
    }
    response = render(request, "library_import.html", context, status)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@router.get(IMPORT)
def import_page(request: Request) -> Response:
    user = accounts.require_user(request, IMPORT)
    return _import_page(request, user)


def _target_name(request: Request, user, collection: str, new_collection: str) -> str:
    """The name of the collection the import fills: a new one (made by the import itself, so a
    file that cannot be read leaves nothing behind), one of the reader's, or the Reading list."""
    if new_collection.strip():
        return coll.check_name(new_collection)
    with request.app.state.engine.begin() as conn:
        if collection.strip():
            try:
                return coll.get_collection(conn, user.id, int(collection)).name
            except (ValueError, NotFound):
                raise FriendlyError(404, "You have no such collection.") from None
        return coll.default_collection(conn, user.id).name


@router.post(IMPORT)
def import_upload(
    request: Request,
    file: Annotated[UploadFile | None, File()] = None,
    ids: Annotated[str, Form()] = "",
    collection: Annotated[str, Form(max_length=20)] = "",
    new_collection: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Import an uploaded file or a pasted list of ids, then show the report."""
    accounts.check_csrf(request, csrf_token)
    user = accounts.require_user(request, IMPORT)
    has_file = file is not None and bool(file.filename)
    pasted = ids.strip()
    if has_file and pasted:
        return _import_page(request, user, error="Import a file or a pasted list, one at a time.",
                            status=400, paste_text=ids[:200_000])
    if not has_file and not pasted:
        return _import_page(request, user, error="Choose a file, or paste arXiv ids or links.", status=400)
    try:
        name = _target_name(request, user, collection, new_collection)
    except LibraryError as e:
        return _import_page(request, user, error=f"That collection name cannot be used: {e}.", status=400)
    options = {"collection": name, "fetch_limit": FETCH_LIMIT, "timeout": FETCH_TIMEOUT,
               "max_bytes": importer.MAX_BYTES}
    engine = request.app.state.engine
    if has_file:
        data = file.file.read(importer.MAX_BYTES + 1)  # a byte over the limit is enough to refuse it
        report = importer.import_text(engine, user.id, data, **options)
        source = file.filename[:200]
    else:
        report = importer.import_text(engine, user.id, ids, fmt="ids", max_ids=paste.MAX_PASTE, **options)
        source = "pasted list"
    log.info("library import by %s from %s: %s", user.username, source, report.summary())
    if report.error:
        message = f"Nothing was imported from {source}: {report.error}."
        return _import_page(request, user, error=message, status=413 if report.error.startswith("the file is") else 400,
                            paste_text="" if has_file else ids[:200_000])
    with engine.connect() as conn:
        target = coll.find_by_name(conn, user.id, name)
    return _import_page(request, user, report=report, target=target)


_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@router.get("/library/export.{extension}")
def export(
    request: Request,
    extension: str,
    collection: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    """The reader's library (or one collection of it, by slug) as a BibTeX, CSV or JSON download."""
    user = accounts.current_user(request)
    if user is None or extension not in EXPORTS:  # private data: nobody else learns it exists
        raise FriendlyError(404)
    fmt, media_type = EXPORTS[extension]
    with request.app.state.engine.connect() as conn:
        try:
            chosen = coll.get_collection(conn, user.id, collection) if collection else None
            text = exporter.export_library(conn, user.id, fmt, collection=chosen.id if chosen else None)
        except NotFound:
            raise FriendlyError(404, "You have no such collection.") from None
    name = _UNSAFE.sub("-", f"paperfeed-{user.username}-{chosen.slug if chosen else 'library'}")
    headers = {
        "Content-Disposition": f'attachment; filename="{name}.{extension}"',
        "Cache-Control": "private, no-store",
    }
    return Response(text, media_type=f"{media_type}; charset=utf-8", headers=headers)
