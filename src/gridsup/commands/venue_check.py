"""The preflight step that refuses to trade live where gridsup cannot keep its
promise of never placing an order twice: an exchange without a verified dialect
(see ``gridsup exchanges``), ccxt missing a capability a grid needs, a market without
precision, a client order id the venue would refuse, or a credential the venue needs
(OKX's passphrase) that grids.toml does not name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gridsup.actors.run_config import Mode
from gridsup.app import StartRefused, enabled_grids
from gridsup.config import GridsFile
from gridsup.messages.common import Side
from gridsup.messages.market import MarketInfo

__all__ = ["check_venue"]

# ccxt's credential field -> the [exchange] key that names its environment variable
_CREDENTIAL_KEYS = {
    "apiKey": "api_key_env",
    "secret": "api_secret_env",
    "password": "password_env",
}


def venue_problems(
    grids: GridsFile, has: Mapping[str, Any], markets: Mapping[str, MarketInfo]
) -> list[str]:
    """Why live trading on the grids file's exchange is unsafe (empty: it is safe)."""
    from gridsup.exchange.ccxt.dialects import DIALECTS, trading_refusal
    from gridsup.strategy.ids import MAX_CYCLE, MAX_LEVEL, make_client_order_id

    exchange_id = grids.exchange.id
    precision: dict[str, object | None] = {}
    for symbol, market in markets.items():
        precision[f"market {symbol} price"] = market.price_step
        precision[f"market {symbol} amount"] = market.amount_step
    problems: list[str] = []
    refusal = trading_refusal(exchange_id, has, precision)
    if refusal is not None:
        problems.append(f"{grids.path}: exchange: id: {refusal}")
    dialect = DIALECTS.get(exchange_id)
    if dialect is None:
        return problems
    for field in dialect.credentials:
        key = _CREDENTIAL_KEYS.get(field)
        if key is not None and getattr(grids.exchange, key) is None:
            problems.append(
                f"{grids.path}: exchange: {key}: {dialect.name} needs it "
                f"(the variable holding the API {field})"
            )
    for grid in enabled_grids(grids):
        # the longest id the grid can make: its highest level, its largest cycle
        longest = make_client_order_id(grid.name, MAX_LEVEL, Side.SELL, MAX_CYCLE)
        problem = dialect.client_id_problem(longest)
        if problem is not None:
            problems.append(f'{grids.path}: grid "{grid.name}": client order ids: {problem}')
    return problems


def check_venue(
    grids: GridsFile, mode: Mode, has: Mapping[str, Any], markets: Mapping[str, MarketInfo]
) -> None:
    """Refuse a live start on an exchange where orders cannot be placed and found by
    client id (dry-run only reads prices: any ccxt exchange will do).

    Raises:
        StartRefused: exit 2, naming the exchange and each missing capability.
    """
    if mode is not Mode.LIVE:
        return
    problems = venue_problems(grids, has, markets)
    if problems:
        raise StartRefused("\n".join(problems))
