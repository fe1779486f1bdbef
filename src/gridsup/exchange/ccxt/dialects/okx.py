"""OKX spot (REST v5): ``clOrdId`` of 1-32 letters and digits, a passphrase besides the
key and secret, a buy's fee taken from the base received."""

from __future__ import annotations

from gridsup.exchange.ccxt.dialects.base import ClientIdLookup, Dialect, FeeAsset

OKX = Dialect(
    id="okx",
    name="OKX",
    api="REST v5 (spot, cash trade mode)",
    client_id_field="clOrdId",
    client_id_max=32,
    client_id_pattern=r"[A-Za-z0-9]{1,32}",
    lookup=ClientIdLookup.FETCH_ORDER,  # GET /api/v5/trade/order?instId&clOrdId
    credentials=("apiKey", "secret", "password"),
    buy_fee=FeeAsset.BASE,
    sell_fee=FeeAsset.QUOTE,
    rate_limit="place/cancel 60 requests per 2 s per instrument, order details 60 per 2 s, "
    "open orders 60 per 2 s; HTTP 429 with code 50011",
    temporary_codes=("50001", "50004", "50013", "50026", "50102"),
    rate_limit_codes=("50011", "50061"),
    duplicate_codes=("51016",),
    ccxt_options={"fetchMarkets": {"types": ["spot"]}},
    verified=(
        "full grid cycle through ccxt's okx class against the loopback's OKX v5 dialect, "
        "signed with key, secret and passphrase",
        "an order is found by clOrdId open and after it filled or was cancelled; "
        "a restarted client finds them",
        "lost create answers settled by clOrdId, 429 (50011) and 5xx retried: "
        "one order per client id",
        "ccxt's recorded OKX answers parse into our orders and trades, buy fee in base",
    ),
    notes=(
        "a duplicate clOrdId is refused (51016) for open and finished orders alike",
        "an order stays findable by clOrdId after it finished (OKX keeps 7 days of "
        "cancelled and 3 months of filled orders)",
    ),
)
