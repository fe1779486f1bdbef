"""The dashboard API described as OpenAPI 3.1, served at ``/api/openapi.json``.

Kept by hand next to the routes (:func:`gridsup.web.app.make_app`); a test checks that
every route is described and every described path is routed.
"""

from __future__ import annotations

from typing import Any


def _json(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema or {"type": "object"}}},
    }


ERROR = {
    "type": "object",
    "required": ["error", "detail"],
    "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
}
GRID = {"name": "grid", "in": "path", "required": True, "schema": {"type": "string"}}
PAGING = [
    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
    {
        "name": "before",
        "in": "query",
        "description": "the next of an earlier page: rows written since neither repeat nor shift",
        "schema": {"type": "string"},
    },
    {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
    },
]
MONEY = {"type": ["string", "null"], "description": "exact decimal as text"}
FLEET_ROW = {
    "type": "object",
    "properties": {
        "grid": {"type": "string"},
        "symbol": {"type": "string"},
        "quote": {"type": "string"},
        "state": {
            "type": "string",
            "description": "trading, paused, reconciling, stopped, aborted, or the actor's "
            "state when it is not running (starting, backoff, stopping, failed ...)",
        },
        "health": {
            "type": "string",
            "enum": ["ok", "paused", "late", "stale", "degraded", "stopped", "down"],
        },
        "mode": {"type": ["string", "null"]},
        "lower": {"type": "string"},
        "upper": {"type": "string"},
        "levels": {"type": "integer"},
        "price": MONEY,
        "position": {
            "type": ["number", "null"],
            "description": "0 at the lower price, 1 at the upper price",
        },
        "realized_profit": MONEY,
        "fees": MONEY,
        "open_orders": {"type": ["integer", "null"]},
        "cycles": {"type": ["integer", "null"]},
        "fills": {"type": "integer"},
        "last_fill": {"type": ["integer", "null"], "description": "ms since the epoch"},
        "restarts": {"type": "integer"},
        "pid": {"type": ["integer", "null"]},
        "heartbeat_age": {"type": ["number", "null"]},
        "tick_age": {"type": ["number", "null"]},
    },
}
PAGE = {
    "type": "object",
    "properties": {
        "total": {"type": "integer"},
        "offset": {"type": "integer"},
        "limit": {"type": "integer"},
        "items": {"type": "array", "items": {"type": "object"}},
        "next": {
            "type": ["string", "null"],
            "description": "pass as before= for the next page; null on the last one",
        },
    },
}
ACTION_REPLY = {
    "type": "object",
    "properties": {
        "action": {"type": "string", "enum": ["pause", "resume", "stop"]},
        "grid": {"type": "string"},
        "outcome": {"type": "string", "enum": ["done", "unknown_grid", "refused", "failed"]},
        "detail": {"type": "string"},
        "state": {"type": ["string", "null"]},
        "error": {"type": "string"},
    },
}
NOT_FOUND = _json("no such grid", ERROR)
UNAUTHORIZED = _json("missing or wrong bearer token", ERROR)


def _get(summary: str, ok: dict[str, Any], *params: dict[str, Any]) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": ok, "401": UNAUTHORIZED}
    if any(p is GRID for p in params):
        responses["404"] = NOT_FOUND
    return {"get": {"summary": summary, "parameters": list(params), "responses": responses}}


def _action(verb: str, what: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": what,
            "parameters": [GRID],
            "security": [{"bearer": []}],
            "responses": {
                "200": _json("done: the command went to the grid's actor", ACTION_REPLY),
                "401": UNAUTHORIZED,
                "404": _json("no such grid", ACTION_REPLY),
                "409": _json(f"the grid's state refuses {verb} (nothing changed)", ACTION_REPLY),
                "503": _json(
                    "no supervisor to act (error), or the pause or resume could not be saved "
                    "in the database (outcome failed; nothing changed)",
                    {"oneOf": [ERROR, ACTION_REPLY]},
                ),
            },
        }
    }


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "gridsup dashboard API",
        "version": "1",
        "description": "Read-only JSON about the running fleet, and three grid actions. "
        "Reads need no token on a loopback address; everything else needs "
        "`Authorization: Bearer <token>` (docs/web.md).",
    },
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    "paths": {
        "/api/openapi.json": _get("This document", _json("OpenAPI 3.1")),
        "/api/fleet": _get(
            "Every grid with its state, price position, profit, fees, orders, health; totals",
            _json(
                "the fleet",
                {
                    "type": "object",
                    "properties": {
                        "supervisor": {"type": "object"},
                        "grids": {"type": "array", "items": FLEET_ROW},
                        "totals": {"type": "object"},
                    },
                },
            ),
        ),
        "/api/events": _get(
            "Server-sent events: `fleet` events of JSON {full, rows, removed, totals}; "
            "the first is the whole fleet, later ones only the rows that changed",
            {"description": "an event stream", "content": {"text/event-stream": {}}},
        ),
        "/api/actors": _get(
            "The supervision tree: supervisor and children (state, pid, restarts, heartbeat age)",
            _json("actors"),
        ),
        "/api/audit": _get(
            "The newest grid actions (who, what, outcome)",
            _json("audit entries"),
            {"name": "grid", "in": "query", "schema": {"type": "string"}},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 500}},
        ),
        "/api/grids/{grid}": _get(
            "One grid: its fleet row, levels, stop prices, reconciliation outcome, status",
            _json("the grid"),
            GRID,
        ),
        "/api/grids/{grid}/chart": _get(
            "Chart data: candles (OHLCV cache) or ticks, levels, open orders, fills",
            _json("chart data"),
            GRID,
        ),
        "/api/grids/{grid}/orders": _get(
            "The grid's orders, newest first, paged", _json("a page", PAGE), GRID, *PAGING
        ),
        "/api/grids/{grid}/fills": _get(
            "The grid's fills, newest first, paged", _json("a page", PAGE), GRID, *PAGING
        ),
        "/api/grids/{grid}/profit": _get(
            "Cumulative booked profit at each closed cycle", _json("a series"), GRID
        ),
        "/api/grids/{grid}/pause": _action("a pause", "Pause: no new orders, open ones stay"),
        "/api/grids/{grid}/resume": _action("a resume", "Resume: reconcile, then trade again"),
        "/api/grids/{grid}/stop": _action("a stop", "Stop the grid's actor (orders stay)"),
    },
}
