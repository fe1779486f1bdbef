"""A local exchange that speaks the subset of Binance spot REST v3 that ccxt's
``binance`` class uses, backed by ``PaperExchange``, with fault injection. The real
ccxt client is pointed at it through ``CcxtExchange(url_overrides=...)``.

Start it with ``python -m gridsup.exchange.loopback --port N`` or in-process with
``LoopbackServer``. Importing this package does not import ccxt.
"""

from gridsup.exchange.loopback.markets import DEFAULT_MARKETS, SymbolSpec
from gridsup.exchange.loopback.server import LoopbackServer, create_app
from gridsup.exchange.loopback.state import AcceptedOrder, LoopbackState
from gridsup.exchange.loopback.urls import binance_url_overrides, url_overrides

__all__ = [
    "DEFAULT_MARKETS",
    "AcceptedOrder",
    "LoopbackServer",
    "LoopbackState",
    "SymbolSpec",
    "binance_url_overrides",
    "create_app",
    "url_overrides",
]
