"""Read back what a finished run left behind and check it against the invariants.

Two records exist of every run: the database (orders, fills, order events and the
grids' saved states, written by the persistence actor) and the exchange's own record
(in dry-run, the paper account the execution actor saved under ``PAPER_ACCOUNT_KEY``;
on the loopback, the server's accepted orders and trades). The checks below compare
them: the ledger in the database equals the exchange's own record (invariant 4), no
client order id was placed twice (invariant 2), and every open order of ours is tracked
by its grid (invariant 3: no orphan left).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import select

from gridsup.actors.persistence_records import decode_state
from gridsup.actors.run_config import PAPER_ACCOUNT_KEY
from gridsup.messages.common import OrderStatus, Side
from gridsup.store.database import Database
from gridsup.store.models import Fill, Order, OrderEvent
from gridsup.store.state import DatabaseStateStore
from gridsup.strategy.grid import GridTradingStrategy
from gridsup.strategy.grid_config import GridConfig
from gridsup.strategy.ids import grid_tag, parse_client_order_id


@dataclass(frozen=True)
class ExchangeOrder:
    """An order as the exchange records it (paper account or loopback)."""

    id: str
    client_order_id: str | None
    symbol: str
    side: str
    status: str
    amount: Decimal
    filled: Decimal


@dataclass(frozen=True)
class ExchangeTrade:
    id: str
    order_id: str
    client_order_id: str | None
    symbol: str
    side: str
    price: Decimal
    amount: Decimal
    fee: Decimal


@dataclass
class ExchangeRecord:
    orders: list[ExchangeOrder]
    trades: list[ExchangeTrade]
    free: dict[str, Decimal] = field(default_factory=dict)
    used: dict[str, Decimal] = field(default_factory=dict)

    @property
    def open_orders(self) -> list[ExchangeOrder]:
        return [o for o in self.orders if o.status == OrderStatus.OPEN.value]


@dataclass
class DatabaseRecord:
    fills: list[Fill]
    orders: list[Order]
    events: list[OrderEvent]
    states: dict[str, dict[str, Any]]  # grid name -> GridTradingStrategy state
    paper: bytes | None  # the paper account's snapshot (dry-run)


def paper_record(snapshot: bytes) -> ExchangeRecord:
    """The paper account's own record, from its snapshot."""
    raw = json.loads(snapshot)
    orders = [
        ExchangeOrder(
            id=o["id"],
            client_order_id=o.get("client_order_id"),
            symbol=o["symbol"],
            side=o["side"],
            status=o.get("status", OrderStatus.OPEN.value),
            amount=Decimal(o["amount"]),
            filled=Decimal(o.get("filled", "0")),
        )
        for o in raw["orders"]
    ]
    trades = [
        ExchangeTrade(
            id=t["id"],
            order_id=t["order_id"],
            client_order_id=t.get("client_order_id"),
            symbol=t["symbol"],
            side=t["side"],
            price=Decimal(t["price"]),
            amount=Decimal(t["amount"]),
            fee=Decimal(t["fee"]),
        )
        for t in raw["trades"]
    ]
    free = {k: Decimal(v) for k, v in raw["free"].items()}
    used = {k: Decimal(v) for k, v in raw["used"].items()}
    return ExchangeRecord(orders, trades, free, used)


async def _read(db_url: str, grids: Iterable[str]) -> DatabaseRecord:
    db = Database(db_url)
    await db.connect()
    try:
        async with db.session() as session:
            fills = list((await session.execute(select(Fill))).scalars())
            orders = list((await session.execute(select(Order))).scalars())
            events = list((await session.execute(select(OrderEvent))).scalars())
        store = DatabaseStateStore(db)
        states: dict[str, dict[str, Any]] = {}
        for grid in grids:
            saved = await store.load(grid)
            if saved is not None:
                states[grid] = msgspec.json.decode(decode_state(saved)[1])
        saved = await store.load(PAPER_ACCOUNT_KEY)
        paper = decode_state(saved)[1] if saved is not None else None
    finally:
        await db.disconnect()
    return DatabaseRecord(fills, orders, events, states, paper)


def read_database(db_url: str, grids: Iterable[str]) -> DatabaseRecord:
    return asyncio.run(_read(db_url, list(grids)))


def tracked_ids(config: dict[str, Any], state: dict[str, Any]) -> set[str]:
    """The client ids a grid's saved state tracks as open."""
    grid = GridConfig.model_validate(config)
    strategy = GridTradingStrategy(grid, grid.name)
    strategy.from_state(state)
    return set(strategy.tracked_orders())


# -- the checks ---------------------------------------------------------------------------


def ours(client_order_id: str | None, grid_names: Iterable[str]) -> str | None:
    """The grid an id belongs to, None for a foreign id."""
    if client_order_id is None:
        return None
    parsed = parse_client_order_id(client_order_id)
    if parsed is None:
        return None
    for name in grid_names:
        if parsed.grid_tag == grid_tag(name):
            return name
    return None


def no_client_id_twice(exchange: ExchangeRecord) -> list[str]:
    """Client ids the exchange accepted more than once (empty when none)."""
    counts = Counter(o.client_order_id for o in exchange.orders if o.client_order_id)
    return sorted(cid for cid, n in counts.items() if n > 1)


def missing_fills(exchange: ExchangeRecord, db: DatabaseRecord, grids: Iterable[str]) -> list[str]:
    """Trades of our orders on the exchange that the database lacks (by trade id)."""
    names = list(grids)
    stored = {f.trade_id for f in db.fills}
    return sorted(
        t.id for t in exchange.trades if ours(t.client_order_id, names) and t.id not in stored
    )


def fill_mismatches(exchange: ExchangeRecord, db: DatabaseRecord) -> list[str]:
    """Fills stored with other figures than the exchange's (price, amount, fee, side)."""
    by_id = {t.id: t for t in exchange.trades}
    out = []
    for fill in db.fills:
        trade = by_id.get(fill.trade_id)
        if trade is None:
            out.append(f"{fill.trade_id}: in the database, not on the exchange")
            continue
        ours_ = (trade.price, trade.amount, trade.fee, trade.side)
        theirs = (fill.price, fill.amount, fill.fee, fill.side.value)
        if ours_ != theirs:
            out.append(f"{fill.trade_id}: exchange {ours_} != database {theirs}")
    return out


def order_mismatches(exchange: ExchangeRecord, db: DatabaseRecord) -> list[str]:
    """Orders whose filled amount differs between the exchange and the database's row
    (only orders the database knows; orders placed but never recorded show up as
    missing fills or orphans instead)."""
    by_cid = {o.client_order_id: o for o in exchange.orders if o.client_order_id}
    out = []
    for row in db.orders:
        order = by_cid.get(row.client_order_id)
        if order is not None and order.filled != row.filled:
            out.append(f"{row.client_order_id}: exchange filled {order.filled} != db {row.filled}")
    return out


def orphans(
    exchange: ExchangeRecord, db: DatabaseRecord, configs: dict[str, dict[str, Any]]
) -> list[str]:
    """Open orders of ours on the exchange that their grid's saved state does not track."""
    tracked = {
        name: tracked_ids(configs[name], state) if state else set()
        for name, state in ((n, db.states.get(n)) for n in configs)
    }
    out = []
    for order in exchange.open_orders:
        grid = ours(order.client_order_id, configs)
        if grid is not None and order.client_order_id not in tracked[grid]:
            out.append(f"{grid}: {order.client_order_id}")
    return out


def ledger_from_fills(
    opening: dict[str, Decimal], fills: Iterable[Fill], quote_of: dict[str, tuple[str, str]]
) -> dict[str, Decimal]:
    """Balances implied by the opening balances and the stored fills (fees in quote)."""
    totals = dict(opening)
    for fill in fills:
        base, quote = quote_of[fill.symbol]
        cost = fill.price * fill.amount
        sign = 1 if fill.side is Side.BUY else -1
        totals[base] = totals.get(base, Decimal(0)) + sign * fill.amount
        totals[quote] = totals.get(quote, Decimal(0)) - sign * cost
        currency = fill.fee_currency or quote
        totals[currency] = totals.get(currency, Decimal(0)) - fill.fee
    return totals
