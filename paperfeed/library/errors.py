"""
The errors the library raises for a reader's bad input; the message is safe to show.

Every one is a `ValueError`, so a caller that only wants "bad input or not"
catches `LibraryError`; the web answers 404 for `NotFound` (never 403: another
reader's private collection does not exist for you) 409 for `Conflict` and 400/413 for the rest.
"""

from __future__ import annotations


class LibraryError(ValueError):
    """A request the library refuses, with a message for the reader."""


class NotFound(LibraryError):
    """No such paper, collection or token (or it belongs to someone else)."""


class Conflict(LibraryError):
    """A name already taken (another collection of the reader's is called that); the API answers 409."""


class TooLarge(LibraryError):
    """A note, name, file or list over its limit; nothing was changed."""
