"""Finding one order by its client order id, the way each venue's ccxt class can.

Binance and OKX answer ``fetch_order`` with the client id for open and finished
orders alike. ccxt's bybit refuses ``fetch_order`` on a unified account
(ArgumentsRequired: it would only see the last 500 orders) and its
``fetch_closed_order`` sees filled orders only, so the open list and then the whole
order history are asked by ``orderLinkId``. ccxt's kraken sends a client id to
``QueryOrders`` as a ``userref``, which our ids are not, so OpenOrders and then
ClosedOrders are asked by ``cl_ord_id``. Each path ends in ccxt's own
``OrderNotFound`` when the venue has no such order, so the error boundary stays one.
"""

from __future__ import annotations

from typing import Any

import ccxt.async_support as ccxt
import structlog

from gridsup.exchange.ccxt.dialects import ClientIdLookup, Dialect

__all__ = ["fetch_by_client_id", "fetch_by_id"]

log = structlog.get_logger(__name__)


def _matching(
    orders: list[dict[str, Any]], venue_id: str, key: str = "clientOrderId"
) -> list[dict[str, Any]]:
    return [o for o in orders if o.get(key) == venue_id]


async def _open_then_finished(
    client: Any, dialect: Dialect, symbol: str, param: str, value: str, key: str
) -> list[dict[str, Any]]:
    """The orders whose ``key`` is ``value``: open ones, else finished ones."""
    params = {param: value}
    orders = _matching(await client.fetch_open_orders(symbol, None, None, dict(params)), value, key)
    if not orders:
        finished = getattr(client, dialect.finished_orders)
        orders = _matching(await finished(symbol, None, None, dict(params)), value, key)
    return orders


async def fetch_by_id(client: Any, dialect: Dialect, symbol: str, order_id: str) -> dict[str, Any]:
    """ccxt's order structure of the order with exchange id ``order_id``.

    Raises:
        ccxt.OrderNotFound: the venue has no such order. ccxt.BaseError: as ccxt.
    """
    if dialect.fetch_order_by_id:
        found: dict[str, Any] = await client.fetch_order(order_id, symbol, {})
        return found
    orders = await _open_then_finished(client, dialect, symbol, "orderId", order_id, "id")
    if not orders:
        raise ccxt.OrderNotFound(f"{dialect.id}: no order {order_id}")
    return orders[0]


async def fetch_by_client_id(
    client: Any, dialect: Dialect, symbol: str, venue_id: str
) -> dict[str, Any]:
    """ccxt's order structure of the order with client id ``venue_id`` (as sent).

    Raises:
        ccxt.OrderNotFound: the venue has no such order (open or finished).
        ccxt.BaseError: the request failed.
    """
    match dialect.lookup:
        case ClientIdLookup.FETCH_ORDER:
            found: dict[str, Any] = await client.fetch_order(
                None, symbol, {dialect.lookup_param: venue_id}
            )
            return found
        case ClientIdLookup.OPEN_THEN_FINISHED:
            orders = await _open_then_finished(
                client, dialect, symbol, dialect.lookup_param, venue_id, "clientOrderId"
            )
            if not orders:
                raise ccxt.OrderNotFound(f"{dialect.id}: no order with client id {venue_id}")
            if len(orders) > 1:
                # the venue checks the id among open orders only: a second order with it
                # was placed after the first finished (never by gridsup: it looks first).
                log.error(
                    "client_id_used_twice",
                    exchange=dialect.id,
                    client_order_id=venue_id,
                    orders=[o.get("id") for o in orders],
                )
            return orders[0]
