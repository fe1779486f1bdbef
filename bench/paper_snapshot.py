"""Paper account snapshot: version 1 (JSON, every order and trade an object, as
gridsup wrote it before) against version 2 (msgpack, orders and trades as arrays) and
version 3 (split: the core and the buckets of the one market that changed, what the
execution actor saves), in the same run, v1 as the baseline.

Accounts: a dry-run fleet of ``--grids`` grids (100) x 12 open orders over 10 markets,
without and with a full history (max_history=1000: 1,000 finished orders and
1,000-2,000 trades). Per version, median of ``--runs``: bytes; ``snapshot`` encode ms;
``restore`` ms; and what the persistence actor then stores: the bytes base64 in its
JSON rows (size, and the ms of that JSON encode), once per fill and per placement batch.

Run:  .venv/bin/python bench/paper_snapshot.py [--runs 200] [--grids 100]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from decimal import Decimal

import msgspec

from figures import median_s
from gridsup.exchange.paper.engine import PaperExchange
from gridsup.exchange.paper.snapshot import encode_v1, split_buckets
from gridsup.messages.common import OrderType, Side
from gridsup.messages.market import MarketInfo

D = Decimal
LIMIT = OrderType.LIMIT


def fleet(history: bool, grids: int = 100) -> PaperExchange:
    markets = {
        f"C{k}/USDT": MarketInfo(
            symbol=f"C{k}/USDT",
            base=f"C{k}",
            quote="USDT",
            price_step=D("0.01"),
            amount_step=D("0.00001"),
            min_amount=D("0.00001"),
            min_notional=D("5"),
        )
        for k in range(10)
    }
    history_market = msgspec.structs.replace(markets["C0/USDT"], symbol="H/USDT", base="H")
    markets[history_market.symbol] = history_market  # its own prices: the grids stay open
    balances = {"USDT": D(10**9)} | {m.base: D(10**6) for m in markets.values()}
    ex = PaperExchange(markets, balances, partial_fills=True, max_history=1000)
    symbols = list(markets)[:10]
    for g in range(grids):
        centre = D(60_000 + 137 * g)
        for i in range(12):
            side = Side.BUY if i < 6 else Side.SELL
            price = (centre * (1 + (i - 6) * D("0.0075"))).quantize(D("0.01"))
            client_id = f"g{g:03d}-{i:02d}-{1_712_345_678_901 + g}"
            ex.create_order(symbols[g % 10], side, LIMIT, D("0.00123"), price, client_id)
    if history:  # orders that filled in two parts, and cancelled ones
        symbol = history_market.symbol
        for n in range(1500):
            order = ex.create_order(symbol, Side.BUY, LIMIT, D("0.1"), D("100.5"), f"h{n}")
            ex.on_candle(symbol, n, D(101), D(101), D(100), D(100), D("0.5"))
            if n % 3:
                ex.on_price(symbol, D(100), n)
            else:
                ex.cancel_order(order.id)
    return ex


class Split:
    """Version 3 as the execution actor saves it: the store's core and buckets, and a
    save after a change to one market (its bucket and the core)."""

    def __init__(self, ex: PaperExchange) -> None:
        self.ex = ex
        self.version = 1
        self.core, self.buckets = ex.split_snapshot(self.version)  # the first: every bucket
        self.symbol = next(iter(ex.markets))

    def save(self) -> list[bytes]:
        self.version += 1
        self.ex._history.touched.add(self.symbol)  # as a fill or a placement there does
        self.core, changed = self.ex.split_snapshot(self.version)
        self.buckets.update(changed)
        return [self.core, *changed.values()]

    def restore(self) -> PaperExchange:
        assert split_buckets(self.core) is not None
        return PaperExchange.restore_split(self.core, self.buckets)


def median_ms(runs: int, work: Callable[[], object]) -> float:
    return median_s(runs, work) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--grids", type=int, default=100)
    args = parser.parse_args()
    row_encoder = msgspec.json.Encoder()  # as the store writes a state row

    def stored(data: bytes) -> bytes:
        return row_encoder.encode({"version": 1, "encoding": "base64", "data": data})

    print(f"median of {args.runs} runs")
    for history in (False, True):
        ex = fleet(history, args.grids)
        print(
            f"{len(ex.open_orders()):,} open orders, {len(ex._history.orders):,} orders kept,"
            f" {len(ex.trades()):,} trades:"
        )
        split = Split(ex)
        encoders: dict[str, Callable[[], list[bytes]]] = {
            "v1 (JSON)": lambda e=ex: [encode_v1(e._parts())],
            "v2 (msgpack)": lambda e=ex: [e.snapshot()],
            "v3 split, 1 mkt": split.save,
        }
        restorers: dict[str, Callable[[list[bytes]], object]] = {
            "v3 split, 1 mkt": lambda _, s=split: s.restore(),
        }
        base: tuple[int, float, float, int, float] | None = None
        for name, encode in encoders.items():
            parts = encode()
            restore = restorers.get(name, lambda p: PaperExchange.restore(p[0]))
            restored = restore(parts)
            assert isinstance(restored, PaperExchange) and restored.snapshot() == ex.snapshot()
            figures = (
                sum(map(len, parts)),
                median_ms(args.runs, encode),
                median_ms(max(args.runs // 4, 3), lambda p=parts, r=restore: r(p)),
                sum(len(stored(p)) for p in parts),
                median_ms(args.runs, lambda p=parts: [stored(d) for d in p]),
            )
            size, enc, dec, row, row_ms = figures
            line = (
                f"  {name:<13} {size:>9,} B  encode {enc:6.3f} ms  restore {dec:6.2f} ms"
                f"  stored {row:>9,} B in {row_ms:6.3f} ms"
            )
            if base is not None:
                line += f"  (size {size / base[0]:.0%}, encode {enc / base[1]:.2f}x,"
                line += f" stored {row / base[3]:.0%} in {row_ms / base[4]:.2f}x)"
            print(line)
            base = base or figures


if __name__ == "__main__":
    main()
