"""The dashboard's aiohttp application: three pages, the read-only JSON API under
``/api/`` that they use, live updates (``/api/events``) and the three grid actions.

Every answer is JSON with a clear status: 404 for an unknown grid, 401 for a missing or
wrong token, 409 for an action the grid's state refuses (the CLI's exit code 2), 400 for
a bad parameter, 503 when the database is not available.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from importlib import resources
from typing import Any

import structlog
from aiohttp import web

from gridsup.messages.control import (
    GridAction,
    GridActionKind,
    GridActionOutcome,
    GridActionReply,
)
from gridsup.web import charts
from gridsup.web.auth import SETTINGS, auth_middleware, login, login_page, who
from gridsup.web.events import EventHub
from gridsup.web.fleet import GridInfo, StatusSource, actor_rows, fleet_rows, totals
from gridsup.web.openapi import OPENAPI
from gridsup.web.settings import WebSettings
from gridsup.web.ticks import TickBuffer

log = structlog.get_logger("gridsup.web")

SUMMARY_TTL_S = 5.0  # the database's per-grid sums are re-read at most this often
STATIC = resources.files("gridsup.web") / "static"
STATUS_OF = {
    GridActionOutcome.DONE: 200,
    GridActionOutcome.UNKNOWN_GRID: 404,
    GridActionOutcome.REFUSED: 409,
    GridActionOutcome.FAILED: 503,  # the pause could not be saved: nothing changed
}

Act = Callable[[GridAction], Awaitable[GridActionReply]]


class Dashboard:
    """What the handlers share: the fleet's source, prices, the database (None: the
    history endpoints answer 503) and the supervisor's grid actions (None: 503)."""

    def __init__(
        self,
        source: StatusSource,
        prices: TickBuffer,
        db: Any = None,
        act: Act | None = None,
        exchange_id: str = "paper",
        update_interval: float = 1.0,
    ) -> None:
        self.source = source
        self.prices = prices
        self.db = db
        self.act = act
        self.exchange_id = exchange_id
        self.summaries: dict[str, dict[str, Any]] = {}
        self._summaries_at = 0.0
        self.summary_ttl = SUMMARY_TTL_S
        self._summary_task: asyncio.Task[None] | None = None
        self.hub = EventHub(self.fleet_now, update_interval)

    def grid(self, name: str) -> GridInfo:
        """Raises:
        web.HTTPNotFound: no such grid (as JSON)."""
        for info in self.source.grids():
            if info.name == name:
                return info
        raise _error(web.HTTPNotFound, "unknown_grid", f"no grid {name!r} in this run")

    def fleet_now(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Rows and totals from what is at hand; the database's sums refresh behind."""
        self._refresh_summaries()
        rows = fleet_rows(self.source, self.prices, self.summaries)
        return rows, totals(rows)

    def _refresh_summaries(self) -> None:
        if self.db is None or time.monotonic() - self._summaries_at < self.summary_ttl:
            return
        if self._summary_task is None or self._summary_task.done():
            self._summary_task = asyncio.get_running_loop().create_task(self._read_summaries())

    async def _read_summaries(self) -> None:
        from gridsup.store.dashboard import grid_summaries

        began = self._summaries_at = time.monotonic()
        try:
            self.summaries = await grid_summaries(self.db)
            # A long history costs more to sum: read it less often, at most 5 % busy.
            self.summary_ttl = max(SUMMARY_TTL_S, 20 * (time.monotonic() - began))
        except Exception as exc:  # the database away: keep the last sums, say so
            log.warning("dashboard_summaries_failed", error=repr(exc))

    async def first_summaries(self) -> None:
        """Before the first answer that shows them: the sums read, not just asked for."""
        if self.db is not None and self._summaries_at == 0.0:
            await self._read_summaries()

    def need_db(self) -> Any:
        if self.db is None:
            raise _error(web.HTTPServiceUnavailable, "no_database", "no database in this run")
        return self.db


DASHBOARD: web.AppKey[Dashboard] = web.AppKey("dashboard", Dashboard)


def _error(cls: type[web.HTTPException], code: str, detail: str) -> web.HTTPException:
    return cls(
        text=web.json_response({"error": code, "detail": detail}).text,
        content_type="application/json",
    )


def _int(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _error(
            web.HTTPBadRequest, "bad_parameter", f"{name}: not a number: {raw[:20]!r}"
        ) from None
    if not lo <= value <= hi:
        raise _error(
            web.HTTPBadRequest, "bad_parameter", f"{name}: must be {lo}..{hi}, got {value}"
        )
    return value


def _page(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        if "grid" in request.match_info:
            request.app[DASHBOARD].grid(request.match_info["grid"])  # 404 for a bad name
        body = (STATIC / name).read_bytes()
        return web.Response(body=body, content_type="text/html", charset="utf-8")

    return handler


# -- read-only API ---------------------------------------------------------------------------


async def api_fleet(request: web.Request) -> web.Response:
    dash = request.app[DASHBOARD]
    await dash.first_summaries()
    rows, total = dash.fleet_now()
    return web.json_response(
        {"supervisor": dash.source.supervisor(), "grids": rows, "totals": total}
    )


async def api_actors(request: web.Request) -> web.Response:
    return web.json_response(actor_rows(request.app[DASHBOARD].source))


async def api_grid(request: web.Request) -> web.Response:
    dash = request.app[DASHBOARD]
    info = dash.grid(request.match_info["grid"])
    await dash.first_summaries()
    rows, _ = dash.fleet_now()
    row = next(r for r in rows if r["grid"] == info.name)
    actor = next((a for a in dash.source.actors() if a.name == info.actor), None)
    status: Mapping[str, Any] = actor.status if actor is not None else {}
    return web.json_response(
        {
            **row,
            "levels": [str(level) for level in info.levels],
            "stop_loss": None if info.stop_loss is None else str(info.stop_loss),
            "take_profit": None if info.take_profit is None else str(info.take_profit),
            "reconciliation": {k: v for k, v in status.items() if k.startswith("recon_")},
            "status": dict(status),
        }
    )


async def api_chart(request: web.Request) -> web.Response:
    dash = request.app[DASHBOARD]
    info = dash.grid(request.match_info["grid"])
    return web.json_response(await charts.chart_data(dash.db, dash.prices, dash.exchange_id, info))


async def api_orders(request: web.Request) -> web.Response:
    from gridsup.store.dashboard import orders_page

    return await _history(request, orders_page)


async def api_fills(request: web.Request) -> web.Response:
    from gridsup.store.dashboard import fills_page

    return await _history(request, fills_page)


async def _history(
    request: web.Request,
    read: Callable[[Any, str, int, int, str | None], Awaitable[dict[str, Any]]],
) -> web.Response:
    from gridsup.store.dashboard import BadCursor

    dash = request.app[DASHBOARD]
    info = dash.grid(request.match_info["grid"])
    offset = _int(request, "offset", 0, 0, 10**9)
    limit = _int(request, "limit", 50, 1, 500)
    before = request.query.get("before")
    try:
        page = await read(dash.need_db(), info.name, offset, limit, before)
    except BadCursor as exc:
        raise _error(web.HTTPBadRequest, "bad_parameter", f"before: {exc}") from None
    return web.json_response(page)


async def api_profit(request: web.Request) -> web.Response:
    from gridsup.store.dashboard import profit_series

    dash = request.app[DASHBOARD]
    info = dash.grid(request.match_info["grid"])
    return web.json_response(
        {"grid": info.name, "points": await profit_series(dash.need_db(), info.name)}
    )


async def api_audit(request: web.Request) -> web.Response:
    from gridsup.store.dashboard import audit_entries

    dash = request.app[DASHBOARD]
    grid = request.query.get("grid")
    if grid is not None:
        dash.grid(grid)
    limit = _int(request, "limit", 100, 1, 500)
    return web.json_response({"entries": await audit_entries(dash.need_db(), grid, limit)})


async def api_openapi(request: web.Request) -> web.Response:
    return web.json_response(OPENAPI)


# -- actions ---------------------------------------------------------------------------------


def _action(kind: GridActionKind) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        dash = request.app[DASHBOARD]
        if dash.act is None:
            raise _error(web.HTTPServiceUnavailable, "no_supervisor", "actions need a supervisor")
        grid = request.match_info["grid"]
        reply = await dash.act(GridAction(action=kind, grid=grid, by=who(request)))
        body = {
            "action": kind.value,
            "grid": grid,
            "outcome": reply.outcome.value,
            "detail": reply.detail,
            "state": reply.state,
        }
        if reply.outcome is not GridActionOutcome.DONE:
            body["error"] = reply.outcome.value
        return web.json_response(body, status=STATUS_OF[reply.outcome])

    return handler


@web.middleware
async def no_cache(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    response = await handler(request)
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def make_app(dashboard: Dashboard, settings: WebSettings) -> web.Application:
    """The application; ``settings`` decide who needs the token (:mod:`.auth`)."""
    app = web.Application(middlewares=[auth_middleware, no_cache])
    app[SETTINGS] = settings
    app[DASHBOARD] = dashboard
    r = app.router
    r.add_get("/", _page("fleet.html"))
    r.add_get("/grid/{grid}", _page("grid.html"))
    r.add_get("/actors", _page("actors.html"))
    r.add_get("/login", login_page)
    r.add_get("/favicon.ico", _no_icon)
    r.add_post("/login", login)
    r.add_get("/api/openapi.json", api_openapi)
    r.add_get("/api/fleet", api_fleet)
    r.add_get("/api/actors", api_actors)
    r.add_get("/api/audit", api_audit)
    r.add_get("/api/events", dashboard.hub.stream)
    r.add_get("/api/grids/{grid}", api_grid)
    r.add_get("/api/grids/{grid}/chart", api_chart)
    r.add_get("/api/grids/{grid}/orders", api_orders)
    r.add_get("/api/grids/{grid}/fills", api_fills)
    r.add_get("/api/grids/{grid}/profit", api_profit)
    for kind in GridActionKind:
        r.add_post(f"/api/grids/{{grid}}/{kind.value}", _action(kind))
    r.add_static("/static", str(STATIC), follow_symlinks=False)
    app.on_cleanup.append(_close_hub)
    return app


async def _no_icon(request: web.Request) -> web.Response:
    return web.Response(status=204)


async def _close_hub(app: web.Application) -> None:
    await app[DASHBOARD].hub.close()
