"""gridsup.store: persistence on SQLite (default) or PostgreSQL, and the OHLCV cache.

Names are exported lazily, so importing ``gridsup.store.errors`` (say, in the
supervisor) does not load SQLAlchemy, and nothing here loads pandas: the OHLCV cache
lives in ``gridsup.store.ohlcv``.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Database": "gridsup.store.database",
    "resolve_url": "gridsup.store.database",
    "render_url": "gridsup.store.database",
    "data_dir": "gridsup.store.database",
    "StoreError": "gridsup.store.errors",
    "DatabaseConfigError": "gridsup.store.errors",
    "DatabaseUnavailable": "gridsup.store.errors",
    "StateVersionError": "gridsup.store.errors",
    "MoneyRangeError": "gridsup.store.errors",
    "OrderRepository": "gridsup.store.orders",
    "FillRepository": "gridsup.store.fills",
    "TradeRepository": "gridsup.store.trades",
    "TradeStats": "gridsup.store.trades",
    "BalanceRepository": "gridsup.store.balances",
    "OrderEventLog": "gridsup.store.events",
    "StateStore": "gridsup.store.state",
    "DatabaseStateStore": "gridsup.store.state",
    "StateMigrations": "gridsup.store.state",
    "StoreWriter": "gridsup.store.writer",
    "OrderRecord": "gridsup.store.records",
    "OrderUpdateRecord": "gridsup.store.records",
    "FillRecord": "gridsup.store.records",
    "OrderEventRecord": "gridsup.store.records",
    "OrderEventKind": "gridsup.store.records",
    "StateRecord": "gridsup.store.records",
    "StoreWrite": "gridsup.store.records",
    "GridLock": "gridsup.store.locks",
    "grid_lock": "gridsup.store.locks",
    "upgrade": "gridsup.store.migrate",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gridsup.store' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
