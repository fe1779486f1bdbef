"""Bybit spot (REST v5, unified trading account): ``orderLinkId`` of up to 36
characters. ccxt's ``fetch_order`` refuses on a unified account (ArgumentsRequired,
which the old code retried forever), and its ``fetch_closed_order`` asks only for
``orderStatus=Filled`` (a cancelled order would be "not found"), so an order is found
in ``/v5/order/realtime`` (open) and then ``/v5/order/history`` without a status
filter (``fetch_canceled_and_closed_orders``), both by ``orderLinkId``."""

from __future__ import annotations

from gridsup.exchange.ccxt.dialects.base import ClientIdLookup, Dialect, FeeAsset

BYBIT = Dialect(
    id="bybit",
    name="Bybit",
    api="REST v5 (spot, unified trading account)",
    client_id_field="orderLinkId",
    client_id_max=36,
    client_id_pattern=r"[A-Za-z0-9_-]{1,36}",
    lookup=ClientIdLookup.OPEN_THEN_FINISHED,
    lookup_param="orderLinkId",
    finished_orders="fetch_canceled_and_closed_orders",
    fetch_order_by_id=False,
    buy_fee=FeeAsset.BASE,
    sell_fee=FeeAsset.QUOTE,
    rate_limit="create/cancel 20 requests per s per UID (spot), queries 50 per s; "
    "retCode 10006 with X-Bapi-Limit headers, HTTP 403 for an IP ban",
    temporary_codes=("10000", "10016", "10019", "10002"),
    rate_limit_codes=("10006", "10018"),
    duplicate_codes=("170141", "12141"),
    ccxt_options={
        "fetchMarkets": {"types": ["spot"]},
        "acknowledged": True,
    },
    verified=(
        "full grid cycle through ccxt's bybit class against the loopback's Bybit v5 "
        "dialect (X-BAPI-* signature)",
        "an order is found by orderLinkId through /v5/order/realtime (open) and "
        "/v5/order/history (finished); a restarted client finds them",
        "lost create answers settled by orderLinkId, rate limits (10006) and 5xx "
        "retried: one order per client id",
        "ccxt's recorded Bybit answers parse into our orders and trades, buy fee in base",
    ),
    notes=(
        "a duplicate orderLinkId is refused for open and finished orders alike (170141)",
        "the account is taken as unified (ccxt probes it; a classic account is not verified)",
    ),
)
