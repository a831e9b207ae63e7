"""
Accounts: sign up, log in, log out; the session cookie, CSRF tokens and roles.

Passwords are stored as argon2id hashes (argon2-cffi).  The session is a
cookie signed with itsdangerous using the site's secret key
(`settings.secret_key()`): it holds the user id and the CSRF token, is
HttpOnly, SameSite=Lax, Secure when the site is served over HTTPS, and expires
after `SESSION_DAYS`.  Every visitor, signed in or not, gets a CSRF token, so
the login and subscribe forms are protected too; every POST is checked with
`verify_csrf` (a form field `csrf_token` or, for htmx, an `X-CSRF-Token`
header).  Roles: reader < curator < admin.
"""

from __future__ import annotations

import functools
import re
import secrets
import time
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Engine, func, select
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection

from paperfeed import settings
from paperfeed.models import User
from paperfeed.web import security
from paperfeed.web.asgi import HttpMiddleware
from paperfeed.web.templating import render

router = APIRouter(include_in_schema=False)  # HTML pages and forms, not API (docs/security.md)
users = User.__table__

COOKIE = "paperfeed_session"
SESSION_DAYS = 30
ROLES = ("reader", "curator", "admin")
USERNAME = re.compile(r"^[A-Za-z0-9_-]{2,32}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
MIN_PASSWORD = 8
_hasher = PasswordHasher()
# verifying against this when the username is unknown takes as long as a real check,
# so response times do not tell which usernames exist
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A sign-up or user creation that cannot be done, with a message for the person."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def create_user(
    engine: Engine, username: str, password: str, email: str | None = None, role: str = "reader"
) -> int:
    """Store a new account and return its id; `AccountError` says what is wrong."""
    username = username.strip()
    if not USERNAME.match(username):
        raise AccountError("Usernames are 2–32 letters, digits, '-' or '_'.")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"Passwords need at least {MIN_PASSWORD} characters.")
    if email and not EMAIL.match(email.strip()):
        raise AccountError("That email address does not look right.")
    if role not in ROLES:
        raise AccountError(f"Role must be one of {', '.join(ROLES)}.")
    with engine.begin() as conn:
        taken = conn.execute(
            select(users.c.id).where(func.lower(users.c.username) == username.lower())
        ).first()
        if taken:
            raise AccountError("That username is taken.")
        result = conn.execute(
            users.insert().values(
                username=username,
                email=(email or "").strip() or None,
                password_hash=hash_password(password),
                role=role,
                created_at=datetime.now(UTC),
            )
        )
        return int(result.inserted_primary_key[0])


def count_users(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(users)).scalar_one()


def signup_open() -> bool:
    return settings.value("allow_signup")


def has_role(user: User | None, role: str) -> bool:
    return user is not None and role_at_least(user.role, role)


def role_at_least(held: str, role: str) -> bool:
    """Whether the role `held` includes `role` (an admin is a curator is a reader)."""
    return ROLES.index(held if held in ROLES else "reader") >= ROLES.index(role)


# -- the session cookie -------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _serializer_for(key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt="paperfeed.session")


def _serializer() -> URLSafeTimedSerializer:
    return _serializer_for(settings.secret_key())


def end_sessions(conn, user_id: int) -> None:
    """End every session of `user_id`, in every browser: its cookies carry the old epoch."""
    conn.execute(
        users.update().where(users.c.id == user_id).values(session_epoch=users.c.session_epoch + 1)
    )


def session_cookie(value: str, secure: bool) -> str:
    """The Set-Cookie header value that stores a signed session."""
    response = Response()
    response.set_cookie(
        COOKIE, value, max_age=SESSION_DAYS * 86400, httponly=True, samesite="lax", secure=secure, path="/"
    )
    return response.headers["set-cookie"]


def load_session(scope: dict) -> dict | None:
    """The signed session in a request's cookie, or None when absent or not ours."""
    raw = HTTPConnection(scope).cookies.get(COOKIE)
    if not raw:
        return None
    try:
        session = _serializer().loads(raw, max_age=SESSION_DAYS * 86400)
    except BadSignature:
        return None
    return session if isinstance(session, dict) and isinstance(session.get("c"), str) else None


# Answers that shared caches may keep (the API, feeds, static files, the `.md`
# pages) and the operators' endpoints: a Set-Cookie there would be cached and
# handed to other readers, and none of them has a form that needs a CSRF token.
COOKIELESS_PREFIXES = ("/api", "/feeds", "/static", "/healthz", "/metrics")


def sets_cookie(path: str) -> bool:
    """Whether a response to `path` may carry the session cookie."""
    if any(path == p or path.startswith(p + "/") for p in COOKIELESS_PREFIXES):
        return False
    return not (path.startswith("/papers/") and path.endswith(".md"))  # the API's Markdown pages


class Sessions(HttpMiddleware):
    """Loads the signed session into `request.state.session`; writes it back when
    changed, except on the paths `sets_cookie` keeps cookie-free."""

    async def handle(self, scope, receive, send) -> None:
        session = load_session(scope)
        fresh = session is None
        state = scope.setdefault("state", {})
        state["session"] = session if session is not None else {"c": secrets.token_urlsafe(32)}
        state["session_changed"] = fresh
        cookie_allowed = sets_cookie(scope["path"])

        async def send_with_cookie(message) -> None:
            if message["type"] == "http.response.start" and cookie_allowed and state.get("session_changed"):
                value = _serializer().dumps(state["session"])
                MutableHeaders(scope=message).append(
                    "set-cookie", session_cookie(value, secure=scope.get("scheme") == "https")
                )
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def session(request: Request) -> dict:
    return getattr(request.state, "session", None) or {}


def csrf_token(request: Request) -> str:
    return session(request).get("c", "")


def check_csrf(request: Request, submitted: str | None) -> None:
    """Refuse (403) a POST whose token does not match the session's."""
    token = submitted or request.headers.get("X-CSRF-Token") or ""
    expected = csrf_token(request)
    if not expected or not secrets.compare_digest(token.encode(), expected.encode()):
        raise security.FriendlyError(
            403, "This form has expired or did not come from this site. Reload the page and try again."
        )


async def verify_csrf(request: Request) -> None:
    """A FastAPI dependency for POST routes in other modules: `Depends(verify_csrf)`."""
    form = await request.form()
    token = form.get("csrf_token")
    check_csrf(request, token if isinstance(token, str) else None)


def start_session(request: Request, user_id: int | None, epoch: int = 0) -> None:
    """Sign `user_id` in (or out, with None) with a fresh CSRF token.

    The cookie carries the user's `session_epoch`; `end_sessions` bumps it, which
    voids every cookie issued before, in every browser (logout, password or role
    change, disable).  Cookies from before epochs existed read as epoch 0.
    """
    request.state.session = {"c": secrets.token_urlsafe(32)}
    if user_id is not None:
        request.state.session["u"] = user_id
        request.state.session["e"] = epoch
    request.state.session_changed = True
    request.state.user_loaded = False


def current_user(request: Request) -> User | None:
    """The signed-in user, looked up once per request."""
    if getattr(request.state, "user_loaded", False):
        return request.state.user
    uid = session(request).get("u")
    if not isinstance(uid, int):
        return None
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.id == uid)).first()
    # a disabled account, or a session from before the last end_sessions, is signed out
    epoch = session(request).get("e", 0)
    active = row is not None and row.disabled_at is None and row.session_epoch == epoch
    user = User(id=row.id, username=row.username, email=row.email, role=row.role,
                list_categories=row.list_categories) if active else None
    request.state.user = user
    request.state.user_loaded = True
    return user


class LoginRequired(Exception):
    """Raised by `require_user`; answered by `login_redirect` (see `install`)."""

    def __init__(self, back: str | None) -> None:
        super().__init__(back)
        self.back = back


def require_user(request: Request, back: str | None = None) -> User:
    """The signed-in user; a visitor is sent to the login page, to come back to `back`."""
    user = current_user(request)
    if user is None:
        raise LoginRequired(back)
    return user


def install(app) -> None:
    @app.exception_handler(LoginRequired)
    def to_login(request: Request, exc: LoginRequired) -> Response:  # plain: run in the thread pool
        return login_redirect(request, exc.back)


def safe_next(target: str | None, default: str = "/") -> str:
    r"""A local path to go back to; anything else (other hosts, `//evil`) becomes `default`.

    Control characters are refused outright rather than left for Starlette to
    percent-encode: browsers drop tabs and newlines from a URL, so `/\t/evil`
    would be followed as `//evil`, another host.  A backslash counts as a slash
    to browsers, so `/\evil` is refused too.
    """
    if not target or any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in target):
        return default
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def login_redirect(request: Request, back: str | None = None) -> Response:
    """Send a visitor who must sign in to the login page (htmx: a full-page redirect)."""
    if back is None and request.headers.get("HX-Current-URL"):
        parts = urlsplit(request.headers["HX-Current-URL"])
        back = parts.path + (f"?{parts.query}" if parts.query else "")
    target = "/login?next=" + quote(safe_next(back), safe="/")
    if request.headers.get("HX-Request"):
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


# -- pages --------------------------------------------------------------------


def _render(request: Request, name: str, context: dict, status: int = 200) -> Response:
    return render(request, name, context, status)


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    return _render(request, "login.html", {"next": safe_next(next), "username": ""})


@router.post("/login")
def login(
    request: Request,
    username: str = Form("", max_length=200),
    password: str = Form("", max_length=1000),
    csrf_token: str = Form(""),
    next: str = Form("/", max_length=2000),
) -> Response:
    check_csrf(request, csrf_token)
    engine: Engine = request.app.state.engine
    name = username.strip().lower()
    attempt = LoginAttempt(engine, security.client_bucket(request), name)
    with engine.connect() as conn:
        row = conn.execute(
            select(users.c.id, users.c.password_hash, users.c.disabled_at, users.c.session_epoch).where(
                func.lower(users.c.username) == name
            )
        ).first()
    if not verify_password(row.password_hash if row else None, password):
        context = {"next": safe_next(next), "username": username, "error": "Wrong username or password."}
        return _render(request, "login.html", context, 400)
    attempt.succeeded()  # the password was right: not a guess, whatever follows
    if row.disabled_at is not None:  # said only to whoever knows the password
        error = "This account is disabled. Ask an administrator of this site."
        context = {"next": safe_next(next), "username": username, "error": error}
        return _render(request, "login.html", context, 403)
    start_session(request, row.id, row.session_epoch)
    return RedirectResponse(safe_next(next), status_code=303)


class LoginAttempt:
    """The login limit's counters for one attempt: only failures stay counted.

    Three counters (limit `rate_limit_login`) count failed logins: per client
    (address, or IPv6 /64) over all usernames; per username over all clients;
    per username and client.  A client over its own limit is refused.  An
    account over its limit is refused only to clients that have already
    failed at it in this window: someone guessing at an account cannot lock
    its owner out (the owner's first try from their own address goes through),
    and guessers spread over many addresses get one wrong guess each.  The
    attempt is counted before the password is checked, so parallel guesses
    cannot all slip past the limit; a success or a refusal gives the count back.
    """

    def __init__(self, engine: Engine, client: str, name: str):
        self.engine = engine
        self.now = time.time()
        self.keys = (f"ip:{client}", f"user:{name}", f"user:{name}@{client}")
        counts = [security.count(engine, "login", key, self.now) for key in self.keys]
        allowed, _ = security.parse_limit("login")
        (by_client, wait), (by_name, _), (by_both, _) = counts
        if by_client > allowed or (by_name > allowed and by_both > 1):
            self._give_back()
            raise security.RateLimited(wait)

    def _give_back(self) -> None:
        for key in self.keys:
            security.count(self.engine, "login", key, self.now, by=-1)

    def succeeded(self) -> None:
        """A success counts nothing, and clears this client's failures at this account."""
        self._give_back()
        security.reset_limits(self.engine, "login", self.keys[2])


@router.get("/signup")
def signup_page(request: Request, next: str = "/") -> Response:
    if not signup_open():
        raise security.FriendlyError(403, "Sign-up is closed on this site. Ask an administrator for an account.")
    return _render(request, "signup.html", {"next": safe_next(next), "username": "", "email": ""})


@router.post("/signup")
def signup(
    request: Request,
    username: str = Form("", max_length=200),
    email: str = Form("", max_length=400),
    password: str = Form("", max_length=1000),
    csrf_token: str = Form(""),
    next: str = Form("/", max_length=2000),
) -> Response:
    check_csrf(request, csrf_token)
    if not signup_open():
        raise security.FriendlyError(403, "Sign-up is closed on this site.")
    engine: Engine = request.app.state.engine
    # its own bucket: a campus signing up behind one NAT must not use up its logins
    security.enforce(engine, "signup", f"ip:{security.client_bucket(request)}")
    try:
        uid = create_user(engine, username, password, email or None)
    except AccountError as e:
        context = {"next": safe_next(next), "username": username, "email": email, "error": str(e)}
        return _render(request, "signup.html", context, 400)
    start_session(request, uid)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request, csrf_token: str = Form("")) -> Response:
    check_csrf(request, csrf_token)
    user = current_user(request)
    if user is not None:  # every browser this account is signed in on, not only this one
        with request.app.state.engine.begin() as conn:
            end_sessions(conn, user.id)
    start_session(request, None)
    return RedirectResponse("/", status_code=303)
