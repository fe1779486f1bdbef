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
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import select

from gridsup.actors.persistence.records import decode_state
from gridsup.exchange.paper.engine import PaperExchange
from gridsup.exchange.types import Trade as PaperTrade
from gridsup.messages.common import OrderStatus, Side
from gridsup.store.database import Database
from gridsup.store.models import Fill, Order, OrderEvent, Trade
from gridsup.store.state import DatabaseStateStore
from gridsup.strategy.grid import GridTradingStrategy
from gridsup.strategy.grid.book import money
from gridsup.strategy.grid.config import GridConfig
from gridsup.strategy.ids import MARKET_LEVEL, grid_tag, parse_client_order_id
from helpers import saved_paper_account


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
    retired: list[str] = field(default_factory=list)  # client ids of forgotten orders

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
    trades: list[Trade] = field(default_factory=list)  # booked cycles (closed rows)

    def trades_of(self, grid: str) -> list[Trade]:
        return [t for t in self.trades if t.strategy == grid]


def paper_record(snapshot: bytes) -> ExchangeRecord:
    """The paper account's own record, from its snapshot (read back by the account
    itself, whatever the snapshot's version)."""
    paper = PaperExchange.restore(snapshot)
    orders = [
        ExchangeOrder(
            id=o.id,
            client_order_id=o.client_order_id,
            symbol=o.symbol,
            side=o.side.value,
            status=o.status.value,
            amount=o.amount,
            filled=o.filled,
        )
        for o in paper.orders()
    ]
    trades = [exchange_trade(t) for t in paper.trades()]
    balance = paper.balance()
    return ExchangeRecord(
        orders, trades, dict(balance.free), dict(balance.used), paper.retired_client_ids()
    )


def exchange_trade(trade: PaperTrade) -> ExchangeTrade:
    """A trade as the exchange reported it (paper account, or ccxt's ``fetch_my_trades``)."""
    return ExchangeTrade(
        id=trade.id,
        order_id=trade.order_id,
        client_order_id=trade.client_order_id,
        symbol=trade.symbol,
        side=trade.side.value,
        price=trade.price,
        amount=trade.amount,
        fee=trade.fee,
    )


async def _read(db_url: str, grids: Iterable[str]) -> DatabaseRecord:
    db = Database(db_url)
    await db.connect()
    try:
        async with db.session() as session:
            fills = list((await session.execute(select(Fill))).scalars())
            orders = list((await session.execute(select(Order))).scalars())
            events = list((await session.execute(select(OrderEvent))).scalars())
            trades = list((await session.execute(select(Trade).order_by(Trade.id))).scalars())
        store = DatabaseStateStore(db)
        states: dict[str, dict[str, Any]] = {}
        for grid in grids:
            saved = await store.load(grid)
            if saved is not None:
                states[grid] = msgspec.json.decode(decode_state(saved)[1])
        # The whole snapshot of the account saved split (its core and buckets).
        account = await saved_paper_account(db)
        paper = account.snapshot() if account is not None else None
    finally:
        await db.disconnect()
    return DatabaseRecord(fills, orders, events, states, paper, trades)


def read_database(db_url: str, grids: Iterable[str]) -> DatabaseRecord:
    return asyncio.run(_read(db_url, list(grids)))


def read_paper_books(db_url: str, grids: Iterable[str]) -> tuple[DatabaseRecord, ExchangeRecord]:
    """The database's record of ``grids`` after a dry run, and the record of the paper
    account the execution actor saved in it."""
    db = read_database(db_url, grids)
    assert db.paper is not None, "the execution actor saved no paper account"
    return db, paper_record(db.paper)


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


def implied_and_held(
    exchange: ExchangeRecord,
    fills: Iterable[Fill],
    opening: Mapping[str, Any],
    quote_of: dict[str, tuple[str, str]],
) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """The balances ``opening`` and the stored fills imply (fees in quote), and what the
    paper account holds of each of those assets, free and in orders: equal when no fill
    was lost or made up."""
    implied = ledger_from_fills({a: Decimal(v) for a, v in opening.items()}, fills, quote_of)
    held = {a: exchange.free.get(a, Decimal(0)) + exchange.used.get(a, Decimal(0)) for a in implied}
    return implied, held


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


# -- booked cycles ------------------------------------------------------------------------


@dataclass(frozen=True)
class Cycle:
    """A cycle as the paper account's record implies it (what a `trades` row must hold)."""

    close_order_id: str
    open_order_id: str | None
    amount: Decimal
    fee: Decimal  # rounded as the row holds it
    profit: Decimal  # exact, as added to realized_profit
    complete: bool
    booked_at: int  # index of the sell's last trade in the exchange's trade list


def _quote(trades: list[ExchangeTrade]) -> tuple[Decimal, Decimal]:
    """(quote, fees) of one order's trades as the strategy counts them (fees in quote):
    a buy's quote is what it paid, fees included; a sell's what it received, net."""
    quote = fees = Decimal(0)
    for t in trades:
        notional = t.price * t.amount
        quote += notional + t.fee if t.side == Side.BUY.value else notional - t.fee
        fees += t.fee
    return quote, fees


def cycles_from_exchange(
    exchange: ExchangeRecord, grid: str, still_tracked: Iterable[str] = ()
) -> list[Cycle]:
    """The cycles ``grid`` booked, recomputed from the exchange's own record alone.

    Each slot's orders (ids numbered by placement within the slot) alternate buy, sell:
    a sell at level i+1 closing (filled, or cancelled after fills) books its net
    proceeds minus the cost of the buy at level i that bought its base (price * amount
    plus the buy's fee). An entry slot's first sell closes its share of the initial
    market buy instead (``amount * quote / net``, the fee shared alike). Orders the
    grid's saved state ``still_tracked`` were not booked yet (their close unseen).
    Mirrors GridTradingStrategy._close_grid/_close_entry and GridBook.book_sell.
    """
    tracked = set(still_tracked)
    position = {t.id: i for i, t in enumerate(exchange.trades)}
    trades_of: dict[str, list[ExchangeTrade]] = {}
    for t in exchange.trades:
        if t.client_order_id is not None:
            trades_of.setdefault(t.client_order_id, []).append(t)
    slots: dict[int, list[tuple[int, ExchangeOrder]]] = {}
    entry_unit: Decimal | None = None
    entry_fee: Decimal = Decimal(0)
    entry_net: Decimal = Decimal(0)
    entry_id: str | None = None
    for order in exchange.orders:
        if ours(order.client_order_id, [grid]) is None:
            continue
        cid = parse_client_order_id(order.client_order_id)
        assert cid is not None and order.client_order_id is not None
        mine = trades_of.get(order.client_order_id, [])
        assert sum((t.amount for t in mine), Decimal(0)) == order.filled, (
            f"{order.client_order_id}: the exchange's record lacks some of its trades"
        )
        if cid.level == MARKET_LEVEL:
            if cid.side is Side.BUY and order.filled > 0:  # the entry (exit sells book none)
                quote, entry_fee = _quote(mine)
                entry_net = order.filled
                entry_unit = quote / entry_net
                entry_id = order.client_order_id
            continue
        slot = cid.level if cid.side is Side.BUY else cid.level - 1
        slots.setdefault(slot, []).append((cid.cycle, order))
    out: list[Cycle] = []
    for slot in sorted(slots):
        cost: Decimal | None = None
        leg_fee = Decimal(0)
        leg_id: str | None = None
        for _, order in sorted(slots[slot], key=lambda pair: pair[0]):
            cid_text = order.client_order_id
            assert cid_text is not None
            closed = order.status != OrderStatus.OPEN.value and cid_text not in tracked
            if not closed or order.filled == 0:
                continue
            quote, fees = _quote(trades_of[cid_text])
            if order.side == Side.BUY.value:
                cost, leg_fee, leg_id = quote, fees, cid_text
                continue
            if cost is None:  # an entry slot's first sell: its share of the market buy
                assert entry_unit is not None, f"{cid_text}: a sell with no buy before it"
                cost = order.amount * entry_unit
                leg_fee = entry_fee * (order.amount / entry_net)
                leg_id = entry_id
            complete = order.filled >= order.amount
            buy_fee = leg_fee
            if not complete:
                share = order.filled / order.amount
                part = cost * share
                cost -= part
                buy_fee = leg_fee * share
                leg_fee -= buy_fee
                booked_cost = part
            else:
                booked_cost, cost = cost, None
            last = max(position[t.id] for t in trades_of[cid_text])
            out.append(
                Cycle(
                    close_order_id=cid_text,
                    open_order_id=leg_id,
                    amount=order.filled,
                    fee=money(buy_fee + fees),
                    profit=quote - booked_cost,
                    complete=complete,
                    booked_at=last,
                )
            )
            if complete:
                leg_id = None
    return sorted(out, key=lambda c: c.booked_at)


def trade_mismatches(
    exchange: ExchangeRecord,
    db: DatabaseRecord,
    grids: Iterable[str],
    exchange_name: str = "paper",
) -> list[str]:
    """Where the `trades` table disagrees with the cycles the exchange's record implies
    (per row: amount, fee, profit; per grid: count, exact profit and fee sums) or with
    the grid's saved figures (realized_profit, completed_cycles)."""
    if exchange.retired:
        # Without the whole record the implied cycles are wrong (a sell whose buy was
        # forgotten): say so instead of comparing. A run audited this way needs a paper
        # history longer than its orders (``paper_history``).
        return [f"the exchange forgot {len(exchange.retired)} orders: no full record"]
    out: list[str] = []
    known = set(grids)
    for row in db.trades:
        if row.strategy not in known or row.exchange != exchange_name or row.is_open:
            out.append(f"unexpected trades row {row.id}: {row.exchange}/{row.strategy}")
    for grid in known:
        state = db.states.get(grid) or {}
        tracked = [o["client_order_id"] for o in state.get("orders", [])]
        expected = cycles_from_exchange(exchange, grid, tracked)
        rows = [r for r in db.trades if r.strategy == grid]
        by_close = {r.close_order_id: r for r in rows}
        if len(by_close) != len(rows):
            out.append(f"{grid}: a close order id stored twice")
        for cycle in expected:
            stored_row = by_close.get(cycle.close_order_id)
            if stored_row is None:
                out.append(f"{grid}: no trades row for {cycle.close_order_id}")
                continue
            want = (cycle.amount, cycle.fee, money(cycle.profit), cycle.open_order_id)
            got = (stored_row.amount, stored_row.fee, stored_row.profit, stored_row.open_order_id)
            if want != got:
                out.append(f"{grid} {cycle.close_order_id}: exchange {want} != row {got}")
        extra = set(by_close) - {c.close_order_id for c in expected}
        out += [f"{grid}: trades row {cid} books no cycle of the exchange's" for cid in extra]
        sums = (
            len(expected),
            sum((money(c.profit) for c in expected), Decimal(0)),
            sum((c.fee for c in expected), Decimal(0)),
        )
        stored = (
            len(rows),
            sum((r.profit or Decimal(0) for r in rows), Decimal(0)),
            sum((r.fee for r in rows), Decimal(0)),
        )
        if sums != stored:
            out.append(f"{grid}: exchange (n, profit, fee) {sums} != trades {stored}")
        if state:
            figures = (int(state["completed_cycles"]), Decimal(state["realized_profit"]))
            implied = (
                sum(1 for c in expected if c.complete),
                sum((c.profit for c in expected), Decimal(0)),
            )
            if figures != implied:
                out.append(f"{grid}: saved (cycles, profit) {figures} != exchange {implied}")
            # Still pending in the state: acked after the last save, or never stored.
            unstored = [c["close_order_id"] for c in state.get("cycles", [])]
            out += [f"{grid}: {c} pending, not stored" for c in unstored if c not in by_close]
    return out


def status_is_a_prefix(
    exchange: ExchangeRecord, db: DatabaseRecord, grid: str, cycles: int, profit: Decimal
) -> bool:
    """The figures a grid reported (completed cycles, exact realized profit) at some
    moment of the run equal those of the first n cycles it booked, for some n."""
    state = db.states.get(grid) or {}
    tracked = [o["client_order_id"] for o in state.get("orders", [])]
    done, total = 0, Decimal(0)
    if (done, total) == (cycles, profit):
        return True
    for cycle in cycles_from_exchange(exchange, grid, tracked):
        done += int(cycle.complete)
        total += cycle.profit
        if (done, total) == (cycles, profit):
            return True
    return False
