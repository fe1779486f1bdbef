"""The loopback's Kraken spot REST dialect: the routes ccxt's ``kraken`` class calls for a
grid (``routes.py``), signed as Kraken signs (API-Key, API-Sign = HMAC-SHA512 of the path
and SHA256(nonce + body) under the base64 secret; a nonce that must grow per key) and
answered in Kraken's shapes (``{"error": [], "result": {...}}``) as ccxt's recorded
answers show them (shared/data/ccxt-static/kraken.json; ``wire.py``). Fees are charged
in quote, on buys and sells (``FEE_MODE``: Kraken's spot default, ``oflags`` "fciq"; a
buy locks its cost plus the fee), whatever the shared account's rule; ``cl_ord_id`` is
the client order id."""

from gridsup.exchange.loopback.kraken.routes import add_routes
from gridsup.exchange.loopback.kraken.wire import (
    FEE_MODE,
    KEY_HEADER,
    PREFIX,
    fault_answer,
    limit_answer,
    limit_headers,
)

__all__ = [
    "FEE_MODE",
    "KEY_HEADER",
    "PREFIX",
    "add_routes",
    "fault_answer",
    "limit_answer",
    "limit_headers",
]
