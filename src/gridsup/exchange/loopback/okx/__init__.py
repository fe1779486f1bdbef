"""The loopback's OKX v5 dialect (spot, cash trade mode): the routes ccxt's ``okx`` class
calls for a grid (``routes.py``), signed as OKX signs (OK-ACCESS-KEY, -SIGN, -TIMESTAMP,
-PASSPHRASE) and answered in OKX's shapes (``{"code": "0", "data": [...], "msg": ""}``)
as ccxt's recorded answers show them (shared/data/ccxt-static/okx.json; ``wire.py``)."""

from gridsup.exchange.loopback.okx.routes import add_routes
from gridsup.exchange.loopback.okx.wire import (
    KEY_HEADER,
    PREFIX,
    fault_answer,
    limit_answer,
    limit_headers,
)

__all__ = ["KEY_HEADER", "PREFIX", "add_routes", "fault_answer", "limit_answer", "limit_headers"]
