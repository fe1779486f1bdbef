"""What every route of the loopback exchange shares, whichever venue it speaks: the one
``LoopbackState`` behind them (``STATE``), the order a create request placed
(``PLACED_ORDER``, so that a lost answer can be recorded), and compact JSON."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from gridsup.exchange.loopback.state import LoopbackState

__all__ = ["PLACED_ORDER", "STATE", "compact_json", "json_answer", "state_of"]

STATE: web.AppKey[LoopbackState] = web.AppKey("loopback_state", LoopbackState)
# Request key: the order a create request placed (so a lost response can be recorded).
PLACED_ORDER: web.RequestKey[str] = web.RequestKey("loopback_placed_order", str)


def state_of(request: web.Request) -> LoopbackState:
    return request.app[STATE]


def compact_json(data: Any) -> str:
    """JSON without spaces, as the venues send it."""
    return json.dumps(data, separators=(",", ":"))


def json_answer(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(data, status=status, headers=headers, dumps=compact_json)
