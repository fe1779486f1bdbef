"""Binance spot (REST v3), the first venue gridsup was built against."""

from __future__ import annotations

from gridsup.exchange.ccxt.dialects.base import ClientIdLookup, Dialect, FeeAsset

BINANCE = Dialect(
    id="binance",
    name="Binance",
    api="spot REST v3",
    client_id_field="newClientOrderId",
    client_id_max=36,
    client_id_pattern=r"[.A-Z:/a-z0-9_-]{1,36}",
    lookup=ClientIdLookup.FETCH_ORDER,
    buy_fee=FeeAsset.RECEIVED,
    sell_fee=FeeAsset.RECEIVED,
    rate_limit="6,000 request weight per minute per IP, 100 orders per 10 s per account; "
    "429 with Retry-After, then 418 bans that grow",
    temporary_codes=("-1001", "-1007"),
    rate_limit_codes=("-1003", "-1015"),
    duplicate_codes=("-2010",),
    ccxt_options={"fetchMarkets": {"types": ["spot"]}, "fetchMargins": False},
    verified=(
        "full grid cycle, restart, lost create answers, 429/5xx and the chaos run "
        "through ccxt against the loopback (tests/e2e, tests/exchange/ccxt)",
        "ccxt's recorded answers parse into our orders, trades and balances",
    ),
    notes=("fee asset: the received asset (BNB discounts are not modelled; pay fees in BNB off)",),
)
