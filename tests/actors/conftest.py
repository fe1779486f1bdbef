"""Fixtures of the trading-actor tests; the helpers live in trading_support."""

from trading_support import actor_host, loopback, pg_schema, run_base, zctx

__all__ = ["actor_host", "loopback", "pg_schema", "run_base", "zctx"]
