"""Admin routes of the loopback exchange's websocket side (not Binance; tests and demos
on 127.0.0.1 only):

- ``POST /admin/ws-faults``  one stream fault or a list (ws_faults.py); ``DELETE`` ends
  them all;
- ``GET /admin/streams``     the sessions, the events sent, the connections accepted, the
  WebSocket API subscriptions tried and refused, and the listenKeys created, kept alive
  and expired;
- ``GET /admin/open-orders`` the client ids of the account's open orders (orphan checks).
"""

from __future__ import annotations

import msgspec
from aiohttp import web

from gridsup.exchange.loopback.ws import WS_HUB
from gridsup.exchange.loopback.ws_faults import decode_ws_faults

__all__ = ["add_ws_admin_routes"]


async def _post_faults(request: web.Request) -> web.Response:
    try:
        faults = decode_ws_faults(await request.read())
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    hub = request.app[WS_HUB]
    for fault in faults:
        hub.apply(fault)
    return web.json_response({"applied": len(faults)})


async def _delete_faults(request: web.Request) -> web.Response:
    request.app[WS_HUB].clear()
    return web.json_response({"cleared": True})


async def _get_streams(request: web.Request) -> web.Response:
    hub = request.app[WS_HUB]
    keys = hub.state.listen_keys
    return web.json_response(
        {
            "sessions": [
                {
                    "stream": s.kind.value,
                    "subscribed": s.subscription is not None
                    or s.listen_key is not None
                    or bool(s.streams),
                    "listen_key": s.listen_key is not None,
                }
                for s in hub.sessions
            ],
            "sent": hub.sent,
            "connections": hub.connections,
            "subscribe_attempts": hub.subscribe_attempts,
            "subscribe_refused": hub.subscribe_refused,
            "listen_keys": {
                "created": keys.created,
                "kept_alive": keys.kept_alive,
                "expired": keys.expired,
            },
        }
    )


async def _open_orders(request: web.Request) -> web.Response:
    """The client ids of the account's open orders (tests check for orphans with it)."""
    state = request.app[WS_HUB].state
    return web.json_response([o.client_order_id for o in state.paper.open_orders()])


def add_ws_admin_routes(app: web.Application) -> None:
    """Register the websocket admin routes on ``app`` (after ``add_ws_routes``)."""
    app.router.add_post("/admin/ws-faults", _post_faults)
    app.router.add_delete("/admin/ws-faults", _delete_faults)
    app.router.add_get("/admin/streams", _get_streams)
    app.router.add_get("/admin/open-orders", _open_orders)
