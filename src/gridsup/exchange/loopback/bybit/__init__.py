"""The loopback's Bybit v5 dialect (spot, unified trading account): the routes ccxt's
``bybit`` class calls for a grid (``routes.py``), signed as Bybit signs (X-BAPI-API-KEY,
-TIMESTAMP, -RECV-WINDOW, -SIGN over timestamp + key + window + query or body) and
answered in Bybit's shapes (``{"retCode": 0, "retMsg": "OK", "result": {...}}``) as
ccxt's recorded answers show them (shared/data/ccxt-static/bybit.json; ``wire.py``)."""

from gridsup.exchange.loopback.bybit.routes import add_routes
from gridsup.exchange.loopback.bybit.wire import (
    KEY_HEADER,
    PREFIX,
    fault_answer,
    limit_answer,
    limit_headers,
)

__all__ = ["KEY_HEADER", "PREFIX", "add_routes", "fault_answer", "limit_answer", "limit_headers"]
