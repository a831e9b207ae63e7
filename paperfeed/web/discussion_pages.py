"""
The discussion on paper pages, on the web: the comments section of
`/papers/{id}` (`paper_context`), a comment's own page `/comments/{id}` (its
thread, every reply paged), and the forms that post, reply, edit, delete,
report, hide and unhide.  The moderation queue is `moderation_pages`.

Every change is a POST form with the CSRF token from a signed-in reader, so it
works without JavaScript; the answer redirects to the comment (or back, to a
local path only).  A form that cannot be stored (empty, too long, over the
rate limit) is answered with the form again, the text kept in it, and a
message: 422 for the text, 429 with `Retry-After` for the limit.  Posting
counts against `rate_limit_comment` (per user) and `rate_limit_comment_address`
(per client address); a form sent twice (a double click, a retry) is stored
once, through its key (`discussion.comments.post`), and the second answer is
the first comment.  A hidden comment is 404 to everyone but curators.  The
work is done by `paperfeed.discussion`; this module reads forms and renders.
"""

from __future__ import annotations

import math
from typing import Annotated
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection, Engine

from paperfeed import settings
from paperfeed.discussion import comments as talk
from paperfeed.discussion import moderation
from paperfeed.models import User
from paperfeed.web import accounts, cards, catalog, pagecache, security
from paperfeed.web.security import FriendlyError, RateLimited
from paperfeed.web.templating import render

router = APIRouter(include_in_schema=False)  # pages and forms, not API

THREADS_PER_PAGE = 25
MAX_THREAD_PAGE = cards.MAX_DEPTH // THREADS_PER_PAGE  # 40: a discussion pages through its first 1,000 threads
REPLIES_SHOWN = 20  # on the paper page; the thread's own page has the rest
REPLIES_PER_PAGE = 100
MAX_REPLY_PAGE = cards.MAX_DEPTH // REPLIES_PER_PAGE  # 10
DONE = {  # what a redirect back says happened; fixed texts, so nothing from the URL is echoed
    "posted": "Your comment is posted.",
    "edited": "Your comment is changed.",
    "deleted": "Your comment is deleted.",
    "reported": "Thank you for the report: a curator will look at the comment.",
    "reported-before": "You have reported this comment already; a curator will look at it.",
    "hidden": "The comment is hidden: only curators see it now.",
    "unhidden": "The comment is shown again.",
    "dismissed": "The reports are dismissed; the comment stays.",
}
ThreadPage = Annotated[int, Query(ge=1, le=MAX_THREAD_PAGE)]
ReplyPage = Annotated[int, Query(ge=1, le=MAX_REPLY_PAGE)]
MAX_ID = 2**31 - 1  # an INTEGER key on both databases: a larger number is no comment (400, not a driver error)
CommentId = Annotated[int, Path(ge=1, le=MAX_ID)]
Done = Annotated[str, Query(max_length=40)]


def _engine(request: Request) -> Engine:
    return request.app.state.engine


def paper_url(arxiv_id: str) -> str:
    return f"/papers/{arxiv_id}"


def feed_url(arxiv_id: str) -> str:
    return f"/feeds/discussion/{arxiv_id}.atom"


def with_done(target: str, done: str | None) -> str:
    """`target` (a local path) with `done=` set, its #fragment kept."""
    if done is None:
        return target
    parts = urlsplit(target)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "done"] + [("done", done)]
    return urlunsplit(("", "", parts.path, urlencode(query), parts.fragment))


def _curator(user: User | None) -> bool:
    return accounts.has_role(user, "curator")


def _limits() -> dict:
    return {"edit_minutes": settings.get_int("comment_edit_minutes"), "max_chars": settings.get_int("comment_max_chars")}


# --- reading ------------------------------------------------------------------------------


def paper_context(conn: Connection, arxiv_id: str, user: User | None, page: int, done: str = "") -> dict:
    """What paper.html's discussion section shows: a page of threads, the visible count."""
    curator = _curator(user)
    total = talk.thread_count(conn, arxiv_id, curator)
    pages = min(max(math.ceil(total / THREADS_PER_PAGE), 1), MAX_THREAD_PAGE)
    if page > pages:
        raise FriendlyError(404, "The discussion of this paper does not have that many pages.")
    threads = talk.threads(conn, arxiv_id, curator, (page - 1) * THREADS_PER_PAGE, THREADS_PER_PAGE, REPLIES_SHOWN)
    return {
        "arxiv_id": arxiv_id, "threads": threads, "count": talk.visible_count(conn, arxiv_id),
        "page": page, "pages": pages, "feed": feed_url(arxiv_id), "new_key": talk.new_key,
        "done": DONE.get(done), "is_curator": curator, "replies_shown": REPLIES_SHOWN, **_limits(),
    }


def location(conn: Connection, found: talk.View) -> str:
    """Where a comment is shown to readers: its place on the paper page (the page of
    discussion its thread is on), or its thread's own page for a reply far down a thread."""
    top_id = found.parent_id or found.id
    if found.parent_id is not None:
        place = talk.reply_position(conn, top_id, found.id)
        if place >= REPLIES_SHOWN:
            return f"/comments/{top_id}?p={place // REPLIES_PER_PAGE + 1}#comment-{found.id}"
    page = min(talk.thread_position(conn, found.arxiv_id, top_id) // THREADS_PER_PAGE + 1, MAX_THREAD_PAGE)
    query = f"?cp={page}" if page > 1 else ""
    return f"{paper_url(found.arxiv_id)}{query}#comment-{found.id}"


def _seen(conn: Connection, comment_id: int, user: User | None) -> talk.View:
    """The comment as this reader sees it; 404 when it is hidden (to all but curators),
    deleted (unless replies hang on it) or not there."""
    curator = _curator(user)
    found = talk.get(conn, comment_id, curator)
    if found is None or (found.hidden and not curator):
        raise FriendlyError(404, "There is no such comment here.", "Comment not found")
    if found.deleted and (found.parent_id is not None or not talk.has_shown_replies(conn, found.id, curator)):
        raise FriendlyError(404, "That comment was deleted.", "Comment not found")
    return found


@router.get("/comments/{comment_id}")
def comment_page(request: Request, comment_id: CommentId, p: ReplyPage = 1, done: Done = "") -> Response:
    """A comment's own page: its thread, the top comment and a page of replies."""
    user = accounts.current_user(request)
    curator = _curator(user)
    with _engine(request).connect() as conn:
        found = _seen(conn, comment_id, user)
        top = found if found.parent_id is None else talk.get(conn, found.parent_id, curator)
        thread = talk.thread_of(conn, top, curator, (p - 1) * REPLIES_PER_PAGE, REPLIES_PER_PAGE)
        paper = catalog.get_paper(conn, found.arxiv_id)
    pages = min(max(math.ceil(thread.reply_count / REPLIES_PER_PAGE), 1), MAX_REPLY_PAGE)
    if p > pages:
        raise FriendlyError(404, "This thread does not have that many pages.")
    context = {
        "paper": paper, "shown": thread, "page": p, "pages": pages,
        "back": f"/comments/{thread.top.id}" + (f"?p={p}" if p > 1 else ""),
        "discussion": {"arxiv_id": found.arxiv_id, "new_key": talk.new_key, "is_curator": curator,
                       "done": DONE.get(done), "feed": feed_url(found.arxiv_id), **_limits()},
    }
    return render(request, "comment_thread.html", context)


# --- writing ------------------------------------------------------------------------------


def _form(request: Request, status: int, error: str, *, arxiv_id: str, body: str, key: str = "",
          parent: talk.View | None = None, editing: talk.View | None = None, headers: dict | None = None) -> Response:
    """The comment form on a page of its own, with the reader's text and what went wrong."""
    with _engine(request).connect() as conn:
        paper = catalog.get_paper(conn, arxiv_id)
    context = {
        "paper": paper, "arxiv_id": arxiv_id, "error": error, "body": body, "key": key or talk.new_key(),
        "parent": parent, "editing": editing, **_limits(),
    }
    return render(request, "comment_form.html", context, status=status, headers=headers)


def _count(request: Request, user: User) -> None:
    """Count one comment, reply or edit against the user's and the address's limits."""
    engine = _engine(request)
    security.enforce(engine, "comment", f"user:{user.id}")
    security.enforce(engine, "comment_address", f"ip:{security.client_bucket(request)}")


def _error_page(error: talk.DiscussionError) -> FriendlyError:
    if isinstance(error, talk.NotFound):
        return FriendlyError(404, str(error), "Comment not found")
    if isinstance(error, talk.NotAllowed):
        return FriendlyError(403, str(error))
    return FriendlyError(400, str(error))


def _refused(request: Request, error: Exception, **form) -> Response:
    """The form again, with the reader's text, for a comment that was not stored (422 for
    the text, 429 for the rate limit); the error page for a comment that is not theirs or gone."""
    if isinstance(error, RateLimited):
        message = f"You are commenting faster than this site allows. Wait {error.retry_after} seconds, then post again: your text is kept below."
        return _form(request, 429, message, headers={"Retry-After": str(error.retry_after)}, **form)
    if isinstance(error, talk.Invalid):
        return _form(request, 422, str(error), **form)
    raise _error_page(error)


@router.post("/comments")
def post_comment(
    request: Request,
    arxiv_id: str = Form(..., max_length=200),
    body: str = Form(""),
    key: str = Form(""),
    parent_id: int | None = Form(None, ge=1, le=MAX_ID),
    csrf_token: str = Form(""),
) -> Response:
    """Post a comment on a paper, or a reply (`parent_id`) to one."""
    accounts.check_csrf(request, csrf_token)
    engine = _engine(request)
    canon = catalog.stored_id(engine, arxiv_id)
    user = accounts.require_user(request, paper_url(canon) + "#discussion")
    curator = _curator(user)
    parent = None
    if parent_id is not None:
        with engine.connect() as conn:
            parent = talk.get(conn, parent_id, curator)
    form = {"arxiv_id": canon, "body": body, "key": key, "parent": parent}
    try:
        text, key = talk.check_body(body, settings.get_int("comment_max_chars")), talk.check_key(key)
        found = talk.already_posted(engine, user.id, key)
        if found is None:
            _count(request, user)
            found, _ = talk.post(engine, user.id, canon, text, key, parent_id=parent_id, curator=curator)
    except (talk.DiscussionError, RateLimited) as e:
        return _refused(request, e, **form)
    pagecache.invalidate()  # cached daily lists show comment counts
    with engine.connect() as conn:
        target = location(conn, found)
    return RedirectResponse(with_done(target, "posted"), status_code=303)


def _own(request: Request, comment_id: int, user: User) -> talk.View:
    with _engine(request).connect() as conn:
        found = _seen(conn, comment_id, user)
    if found.deleted:
        raise FriendlyError(404, "That comment was deleted.", "Comment not found")
    if found.user_id != user.id:
        raise FriendlyError(403, "Only its author can change a comment.")
    return found


@router.get("/comments/{comment_id}/edit")
def edit_page(request: Request, comment_id: CommentId) -> Response:
    user = accounts.require_user(request, f"/comments/{comment_id}/edit")
    found = _own(request, comment_id, user)
    minutes = settings.get_int("comment_edit_minutes")
    if not found.editable_by(user.id, minutes):
        raise FriendlyError(403, f"Comments can be edited for {minutes} minutes after posting; this one can no longer be edited.")
    return _form(request, 200, "", arxiv_id=found.arxiv_id, body=found.body, editing=found)


@router.post("/comments/{comment_id}/edit")
def edit_comment(
    request: Request, comment_id: CommentId, body: str = Form(""), csrf_token: str = Form(""),
) -> Response:
    accounts.check_csrf(request, csrf_token)
    user = accounts.require_user(request, f"/comments/{comment_id}/edit")
    found = _own(request, comment_id, user)
    form = {"arxiv_id": found.arxiv_id, "body": body, "editing": found}
    try:
        text = talk.check_body(body, settings.get_int("comment_max_chars"))
        _count(request, user)
        with _engine(request).begin() as conn:
            changed = talk.edit(conn, comment_id, user.id, text, settings.get_int("comment_edit_minutes"))
            target = location(conn, changed)
    except (talk.DiscussionError, RateLimited) as e:
        return _refused(request, e, **form)
    return RedirectResponse(with_done(target, "edited"), status_code=303)


@router.post("/comments/{comment_id}/delete")
def delete_comment(request: Request, comment_id: CommentId, csrf_token: str = Form("")) -> Response:
    accounts.check_csrf(request, csrf_token)
    user = accounts.require_user(request, f"/comments/{comment_id}")
    found = _own(request, comment_id, user)
    try:
        with _engine(request).begin() as conn:
            talk.delete_comment(conn, comment_id, user.id)
    except talk.DiscussionError as e:
        raise _error_page(e) from None
    pagecache.invalidate()
    return RedirectResponse(with_done(paper_url(found.arxiv_id) + "#discussion", "deleted"), status_code=303)


@router.post("/comments/{comment_id}/report")
def report_comment(
    request: Request, comment_id: CommentId, reason: str = Form("", max_length=moderation.MAX_REASON),
    csrf_token: str = Form(""), next: str = Form("", max_length=2000),
) -> Response:
    """Report a comment to the curators (once per reader)."""
    accounts.check_csrf(request, csrf_token)
    user = accounts.require_user(request, f"/comments/{comment_id}")
    security.enforce(_engine(request), "report", f"user:{user.id}")
    try:
        with _engine(request).begin() as conn:
            _seen(conn, comment_id, user)
            new = moderation.report(conn, comment_id, user.id, reason)
    except talk.DiscussionError as e:
        raise _error_page(e) from None
    back = accounts.safe_next(next, f"/comments/{comment_id}")
    return RedirectResponse(with_done(back, "reported" if new else "reported-before"), status_code=303)


MODERATION = {"hide": "hidden", "unhide": "unhidden", "dismiss": "dismissed"}


@router.post("/comments/{comment_id}/moderate")
def moderate_comment(
    request: Request, comment_id: CommentId, action: str = Form(..., max_length=20),
    csrf_token: str = Form(""), next: str = Form("", max_length=2000),
) -> Response:
    """Hide or unhide a comment, or dismiss its reports (curators and admins)."""
    accounts.check_csrf(request, csrf_token)
    user = accounts.require_user(request, f"/comments/{comment_id}")
    if not _curator(user):
        raise FriendlyError(403, "Only curators can hide comments; report it instead.")
    if action not in MODERATION:
        raise FriendlyError(400, "Choose hide, unhide or dismiss.")
    try:
        with _engine(request).begin() as conn:
            if action == "hide":
                found = moderation.hide(conn, comment_id, user.id)
            elif action == "unhide":
                found = moderation.unhide(conn, comment_id)
            else:
                moderation.dismiss(conn, comment_id, user.id)
                found = talk.get(conn, comment_id)
    except talk.DiscussionError as e:
        raise _error_page(e) from None
    pagecache.invalidate()
    back = accounts.safe_next(next, paper_url(found.arxiv_id) + f"#comment-{comment_id}")
    return RedirectResponse(with_done(back, MODERATION[action]), status_code=303)
