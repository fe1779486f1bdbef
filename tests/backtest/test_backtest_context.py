"""``BacktestContext`` on its own: orders to the paper account, outcomes to the strategy."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from gridsup.backtest import BacktestContext
from gridsup.exchange.paper.engine import PaperExchange
from gridsup.messages.common import FillReport, OrderIntent, OrderType, Side
from gridsup.messages.market import Tick
from gridsup.strategy.protocols import ExecutionContext
from helpers import BTC_USDT


class Recorder:
    """A strategy that only records what it is told."""

    name = "recorder"

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def initialize(self, ctx: ExecutionContext) -> None:
        pass

    def on_tick(self, tick: Tick) -> None:
        pass

    def on_order_filled(self, fill: FillReport) -> None:
        self.events.append(("filled", fill))

    def on_order_cancelled(self, client_order_id: str, filled: Decimal) -> None:
        self.events.append(("cancelled", (client_order_id, filled)))

    def on_order_rejected(self, client_order_id: str, reason: str) -> None:
        self.events.append(("rejected", (client_order_id, reason)))

    def get_state(self) -> dict[str, Any]:
        return {"version": 1}

    def from_state(self, state: Mapping[str, Any]) -> None:
        pass

    def shutdown(self) -> None:
        pass


def setup() -> tuple[PaperExchange, BacktestContext, Recorder]:
    paper = PaperExchange({"BTC/USDT": BTC_USDT}, {"USDT": Decimal(1000)})
    ctx = BacktestContext(paper, BTC_USDT)
    strategy = Recorder()
    ctx.bind(strategy)
    return paper, ctx, strategy


def limit(cid: str, side: Side, price: str, amount: str = "1") -> OrderIntent:
    return OrderIntent(
        client_order_id=cid,
        symbol="BTC/USDT",
        side=side,
        type=OrderType.LIMIT,
        amount=Decimal(amount),
        price=Decimal(price),
    )


def test_it_is_an_execution_context_on_candle_time() -> None:
    _, ctx, _ = setup()
    ctx.set_time(1_704_067_200_000)
    assert isinstance(ctx, ExecutionContext)
    assert ctx.now_ms() == 1_704_067_200_000
    assert ctx.market is BTC_USDT


def test_a_fill_reaches_the_strategy_only_when_dispatched() -> None:
    paper, ctx, strategy = setup()
    ctx.set_time(1_000)
    ctx.place_order(limit("a", Side.BUY, "100"))
    ctx.on_trades(paper.on_price("BTC/USDT", Decimal("99.5"), 1_000))
    assert strategy.events == []  # queued, not handed over re-entrantly
    ctx.dispatch()
    [(kind, fill)] = strategy.events
    assert kind == "filled"
    assert (fill.client_order_id, fill.side, fill.price, fill.amount) == (
        "a",
        Side.BUY,
        Decimal("100"),
        Decimal("1"),
    )
    assert fill.fee == Decimal("0.100")
    assert fill.order_filled == Decimal("1")
    assert fill.order_closed
    assert fill.timestamp == 1_000


def test_a_cancel_and_a_refusal_come_back_as_such() -> None:
    _, ctx, strategy = setup()
    ctx.place_order(limit("a", Side.BUY, "100"))
    ctx.cancel_order("a")
    ctx.place_order(limit("b", Side.BUY, "100", amount="50"))  # 5,005 USDT > 1,000
    ctx.place_order(limit("a", Side.SELL, "120"))  # a client id is never reused
    ctx.dispatch()
    kinds = [(kind, detail[0]) for kind, detail in strategy.events]
    assert kinds == [("cancelled", "a"), ("rejected", "b"), ("rejected", "a")]
    assert strategy.events[0][1] == ("a", Decimal(0))
    assert "InsufficientFunds" in strategy.events[1][1][1]
    assert "DuplicateOrder" in strategy.events[2][1][1]
    assert ctx.stats.placed == 1
    assert ctx.stats.rejected == 2


def test_a_market_order_fills_at_the_last_price() -> None:
    paper, ctx, strategy = setup()
    paper.on_price("BTC/USDT", Decimal("101.5"), 2_000)
    ctx.set_time(2_000)
    ctx.place_order(
        OrderIntent(
            client_order_id="m",
            symbol="BTC/USDT",
            side=Side.BUY,
            type=OrderType.MARKET,
            amount=Decimal(2),
        )
    )
    ctx.dispatch()
    [(kind, fill)] = strategy.events
    assert (kind, fill.price, fill.amount, fill.order_closed) == (
        "filled",
        Decimal("101.5"),
        Decimal(2),
        True,
    )
    assert paper.balance().total("BTC") == 2
