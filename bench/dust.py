"""Stranded base and money that adds up, after 1,000 grid cycles whose buys pay their fee
in base (Binance without BNB): the dust each grid holds, in lot steps (goal: < 1), and
the profit it reports against the balance change its fills imply (goal: equal).

    .venv/bin/python bench/dust.py [--cycles 1000]

A small exchange in this file fills the real GridTradingStrategy's limit orders as the
price swings through every level and charges a 0.1 % fee in the asset received. The
baseline of the run is the sizing before issue 14 (the counter sell = filled - fee,
rounded down; the remainder forgotten): the base it strands is what the account keeps
and no grid ever sells. Printed, not asserted.
"""

from __future__ import annotations

import argparse
from decimal import ROUND_DOWN, Decimal

from gridsup.messages.common import FillReport, OrderIntent, OrderType, Side
from gridsup.messages.market import MarketInfo, Tick
from gridsup.strategy.grid import GridTradingStrategy
from gridsup.strategy.grid.config import GridConfig

FEE = Decimal("0.001")
GRIDS = {  # name: (lower, upper, levels, investment, lot step)
    "btc": ("40000", "70000", 7, "10000", "0.00001"),
    "eth": ("2500", "3500", 11, "3000", "0.0001"),
    "doge": ("0.10", "0.20", 21, "500", "1"),
}


class Exchange:
    """Fills limit orders the price crosses; fees in the asset received."""

    def __init__(self, market: MarketInfo) -> None:
        self.market_info = market
        self.strategy: GridTradingStrategy | None = None
        self.open: dict[str, OrderIntent] = {}
        self.balance = {market.base: Decimal(0), market.quote: Decimal(0)}
        self.now = 0
        self.trades = 0

    @property
    def market(self) -> MarketInfo:
        return self.market_info

    def now_ms(self) -> int:
        return self.now

    def place_order(self, intent: OrderIntent) -> None:
        assert intent.type is OrderType.LIMIT
        self.open[intent.client_order_id] = intent

    def cancel_order(self, client_order_id: str) -> None:
        self.open.pop(client_order_id, None)

    def move_to(self, price: Decimal) -> None:
        assert self.strategy is not None
        self.now += 60_000
        for cid, intent in list(self.open.items()):
            assert intent.price is not None
            crossed = intent.price >= price if intent.side is Side.BUY else intent.price <= price
            if cid in self.open and crossed:
                del self.open[cid]
                self._fill(intent)
        self.strategy.on_tick(Tick(symbol=self.market_info.symbol, timestamp=self.now, last=price))

    def _fill(self, intent: OrderIntent) -> None:
        assert self.strategy is not None and intent.price is not None
        base, quote = self.market_info.base, self.market_info.quote
        notional = intent.price * intent.amount
        if intent.side is Side.BUY:
            fee, asset = intent.amount * FEE, base
            self.balance[base] += intent.amount - fee
            self.balance[quote] -= notional
        else:
            fee, asset = notional * FEE, quote
            self.balance[base] -= intent.amount
            self.balance[quote] += notional - fee
        self.trades += 1
        self.strategy.on_order_filled(
            FillReport(
                client_order_id=intent.client_order_id,
                symbol=intent.symbol,
                side=intent.side,
                price=intent.price,
                amount=intent.amount,
                fee=fee,
                fee_currency=asset,
                trade_id=str(self.trades),
                timestamp=self.now,
                order_filled=intent.amount,
                order_closed=True,
            )
        )


def run(name: str, cycles: int) -> None:
    lower, upper, levels, investment, step = GRIDS[name]
    symbol = f"{name.upper()}/USDT"
    market = MarketInfo(symbol=symbol, base=name.upper(), quote="USDT", amount_step=Decimal(step))
    config = GridConfig.model_validate(
        {
            "name": name,
            "symbol": symbol,
            "lower_price": lower,
            "upper_price": upper,
            "num_grids": levels,
            "total_investment": investment,
            "fee_rate": "0.001",
            "initial_position": "none",
        }
    )
    strategy = GridTradingStrategy(config, name)
    exchange = Exchange(market)
    exchange.strategy = strategy
    strategy.initialize(exchange)
    low, high = Decimal(lower), Decimal(upper)
    exchange.move_to(high)
    max_dust = Decimal(0)
    while strategy.completed_cycles < cycles:
        exchange.move_to(low)
        exchange.move_to(high)
        max_dust = max(max_dust, strategy.dust)
    step_d = Decimal(step)
    # Baseline: every buy's remainder (received minus the rounded-down sell) stranded.
    amounts = strategy.order_amounts
    stranded = sum((a * (1 - FEE)) - (a * (1 - FEE)).quantize(step_d, ROUND_DOWN) for a in amounts)
    per_round = len(amounts)
    baseline_steps = stranded * (strategy.completed_cycles // per_round) / step_d
    reported = strategy.realized_profit - strategy.cost_held
    change = exchange.balance["USDT"]
    print(
        f"{name:>5} {strategy.completed_cycles:>7} {float(max_dust / step_d):>14.3f} "
        f"{float(strategy.dust / step_d):>10.3f} {float(baseline_steps):>15.1f} "
        f"{strategy.realized_profit:>14.4f} {change + strategy.cost_held:>14.4f} "
        f"{'equal' if reported == change else f'differs by {reported - change}'}"
        f"; base {'equal' if exchange.balance[market.base] == strategy.base_held else 'differs'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=1000)
    args = parser.parse_args()
    print(
        f"{'grid':>5} {'cycles':>7} {'max dust/step':>14} {'end/step':>10} "
        f"{'baseline/step':>15} {'profit':>14} {'quote chg+held':>14} profit vs balance"
    )
    for name in GRIDS:
        run(name, args.cycles)


if __name__ == "__main__":
    main()
