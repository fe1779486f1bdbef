"""Who may ask what: loopback readers need nothing, everyone else and every action needs
the bearer token (``Authorization: Bearer <token>``; a browser on a non-loopback address
signs in once at ``/login``, which sets an HttpOnly, SameSite=Strict cookie that serves
reads only — an action always carries the header, so no other site can make a browser
act)."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web

from gridsup.web.settings import WebSettings

COOKIE = "gridsup_token"
SETTINGS: web.AppKey[WebSettings] = web.AppKey("settings", WebSettings)
_OPEN_PATHS = frozenset({"/login", "/favicon.ico"})
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _matches(given: str | None, token: str | None) -> bool:
    if not given or token is None:
        return False
    return hmac.compare_digest(given.encode(), token.encode())


def bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def unauthorized(detail: str) -> web.Response:
    return web.json_response(
        {"error": "unauthorized", "detail": detail},
        status=401,
        headers={"WWW-Authenticate": 'Bearer realm="gridsup"'},
    )


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    safe = request.method in _SAFE_METHODS
    if request.path in _OPEN_PATHS or (safe and settings.loopback):
        return await handler(request)
    if settings.token is None:
        return unauthorized(f"actions need a token: set {settings.token_env} and restart")
    given = bearer(request)
    if given is None and safe:
        given = request.cookies.get(COOKIE)
    if not _matches(given, settings.token):
        return unauthorized("missing or wrong bearer token")
    return await handler(request)


def who(request: web.Request) -> str:
    """Who asks, for the audit log: the token's id (never the token) when the request
    carries it, else ``loopback``. Actions always carry it (the middleware saw to that)."""
    settings = request.app[SETTINGS]
    if _matches(bearer(request), settings.token):
        return settings.token_id
    return "loopback" if settings.loopback else "anonymous"


LOGIN_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>gridsup sign in</title>
<link rel="stylesheet" href="/static/style.css"></head><body><main class="login">
<h1>gridsup</h1><form method="post" action="/login">
<label>Token <input type="password" name="token" autocomplete="current-password"></label>
<button type="submit">Sign in</button></form><p class="muted">{message}</p></main></body></html>
"""


async def login_page(request: web.Request) -> web.Response:
    return web.Response(text=LOGIN_PAGE.format(message=""), content_type="text/html")


async def login(request: web.Request) -> web.Response:
    """Check the posted token; set the read cookie and go to the fleet page."""
    settings = request.app[SETTINGS]
    form = await request.post()
    token = form.get("token")
    if not isinstance(token, str) or not _matches(token, settings.token):
        return web.Response(
            text=LOGIN_PAGE.format(message="wrong token"), status=401, content_type="text/html"
        )
    response = web.HTTPSeeOther("/")
    response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/")
    raise response
