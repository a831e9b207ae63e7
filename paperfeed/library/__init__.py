"""
The reader's library: saved papers and collections, notes, follows, author
pages, access and feed tokens, BibTeX/CSV/JSON import and export, and the
reader's own data.  What the web pages, API, feeds and digest call.

    from paperfeed.library import collection, saved, listing, follows, authors, tokens
    from paperfeed.library.importer import import_text, import_file
    from paperfeed.library.exporter import export_library
    from paperfeed.library.account import export_user_data, delete_user

    with engine.begin() as conn:                      # every call but import takes a Connection
        saved.save(conn, user_id, "2312.00752")        # into the Reading list
        ideas = collection.create_collection(conn, user_id, "Ideas", "state-space models")
        saved.save(conn, user_id, "2312.00752", [ideas.id], note="read §3\nthen the appendix")
        page = listing.list_saved(conn, user_id, collection="ideas", category="cs.LG", sort="published")
        collection.public_collection(conn, "ada", "ideas")   # None unless public: answer 404
        authors.author_page(conn, "Albert Gu")         # papers, co-authors, categories, maybe-same
        follows.follow_author(conn, user_id, "Albert Gu")
        new = tokens.create_token(conn, user_id, name="laptop")   # new.token: show it once
        tokens.verify(conn, request.headers.get("authorization"))  # -> Bearer | None
    report = import_text(engine, user_id, upload_bytes, fetch_limit=20, max_ids=paste.MAX_PASTE)

Modules (each one concept): `collection`, `saved`,
`listing`, `authors`, `follows`, `tokens`, `entries` (what imports read
into), `bibtex`, `csvfile`, `jsonfile`, `paste`, `fetch` (unknown ids from
arXiv), `importer`, `exporter`, `account`, `commands` (the CLI group),
`errors` (`LibraryError`, `NotFound` → 404, `TooLarge`).

Functions take a SQLAlchemy Connection inside the caller's transaction and an
authenticated user id; they never check who is asking beyond that id, and they
never return another reader's private data for it (NotFound instead).  Author
and title keys live in `paperfeed.names`, and the author/title lookup tables the
ingest fills in `paperfeed.ingest.paper_index`: storage-level pieces that the
ingest uses, so they sit below this package.
"""
