"""Split paper snapshots (version 3): a core and buckets of orders by symbol, of which a
save writes only the buckets that changed. Over random order flows on several markets
(hypothesis), the store's latest core and buckets always restore the very account that
saved them; a bucket the store lost or holds from another save stops the restore; and a
whole snapshot of earlier releases moves to the split form at its first split save."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paper_support import D, limit, paper

from gridsup.exchange.errors import ExchangeError
from gridsup.exchange.paper.engine import PaperExchange
from gridsup.exchange.paper.snapshot import BUCKETS, bucket_of, decode, split_buckets
from gridsup.messages.common import OrderType, Side
from gridsup.messages.market import MarketInfo

# Five markets in five different buckets, quoted in one currency.
BASES = ("BTC", "ETH", "SOL", "XRP", "ADA")
MARKETS = {
    f"{b}/USDT": MarketInfo(
        symbol=f"{b}/USDT", base=b, quote="USDT", price_step=D("0.01"), amount_step=D("0.001")
    )
    for b in BASES
}
START = {"USDT": D("100000"), **{b: D("50") for b in BASES}}


class Store:
    """What the persistence actor keeps of split saves: the last core, and each bucket
    as last written (a save writes the core and its buckets in one transaction)."""

    def __init__(self) -> None:
        self.core: bytes | None = None
        self.buckets: dict[int, bytes] = {}
        self.writes: list[int] = []  # how many buckets each save wrote

    def save(self, ex: PaperExchange, version: int) -> None:
        self.core, buckets = ex.split_snapshot(version)
        self.buckets.update(buckets)
        self.writes.append(len(buckets))

    def restore(self) -> PaperExchange:
        assert self.core is not None
        return PaperExchange.restore_split(self.core, self.buckets)


def account(max_history: int | None = None, partial_fills: bool = False) -> PaperExchange:
    ex = PaperExchange(MARKETS, START, max_history=max_history, partial_fills=partial_fills)
    for symbol in MARKETS:
        ex.on_price(symbol, D(100), 0)  # market orders and crossing limits from the start
    return ex


def test_markets_fall_in_different_buckets() -> None:
    # The test flows below change one market at a time: each must be a bucket of its own.
    assert len({bucket_of(s) for s in MARKETS}) == len(MARKETS)
    assert all(0 <= bucket_of(s) < BUCKETS for s in MARKETS)


symbols = st.sampled_from(sorted(MARKETS))
prices = st.integers(90, 110).map(Decimal)
amounts = st.integers(1, 500).map(lambda n: D(n).scaleb(-3))
operations = st.one_of(
    st.tuples(st.just("limit"), symbols, st.sampled_from([Side.BUY, Side.SELL]), amounts, prices),
    st.tuples(st.just("market"), symbols, st.sampled_from([Side.BUY, Side.SELL]), amounts),
    st.tuples(st.just("cancel"), st.integers(0, 60)),
    st.tuples(st.just("price"), symbols, prices),
    # A candle that trades little volume: partial fills, when the account allows them.
    st.tuples(st.just("candle"), symbols, prices, st.integers(1, 300).map(lambda n: D(n) / 1000)),
    st.tuples(st.just("save")),
    st.tuples(st.just("refused")),
    st.tuples(st.just("restart")),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([None, 2, 5]), st.booleans(), st.lists(operations, min_size=20, max_size=80))
def test_the_store_always_restores_the_account_that_saved(
    max_history: int | None, partial_fills: bool, ops: list[tuple[object, ...]]
) -> None:
    ex = account(max_history, partial_fills)
    store = Store()
    version = 0
    store.save(ex, version := version + 1)
    ids: list[str] = []
    for op in ops:
        try:
            match op:
                case ("limit", str(symbol), Side() as side, Decimal() as amount, Decimal() as px):
                    ids.append(ex.create_order(symbol, side, OrderType.LIMIT, amount, px).id)
                case ("market", str(symbol), Side() as side, Decimal() as amount):
                    ex.create_order(symbol, side, OrderType.MARKET, amount)
                case ("cancel", int(n)) if ids:
                    ex.cancel_order(ids[n % len(ids)])
                case ("price", str(symbol), Decimal() as px):
                    ex.on_price(symbol, px, 0)
                case ("candle", str(symbol), Decimal() as px, Decimal() as volume):
                    ex.on_candle(symbol, 0, D(100), max(px, D(100)), min(px, D(100)), px, volume)
                case ("save",):
                    store.save(ex, version := version + 1)
                    assert store.restore().snapshot() == ex.snapshot()
                case ("refused",):
                    # A save the store refused: nothing of it stored, every bucket again.
                    ex.split_snapshot(version := version + 1)
                    ex.resplit()
                case ("restart",):
                    # A restart from what is stored: the changes since the last save are
                    # lost with the process, as they are for the execution actor.
                    ex = store.restore()
                    ex.max_history = max_history
        except ExchangeError:
            pass  # refused as the venue would: nothing changed
    store.save(ex, version := version + 1)
    restored = store.restore()
    assert restored.snapshot() == ex.snapshot()
    assert restored.open_orders() == ex.open_orders()
    assert restored.balance() == ex.balance()


def test_a_save_writes_only_the_buckets_of_the_markets_that_changed() -> None:
    ex = account()
    store = Store()
    store.save(ex, 1)
    assert store.writes == [len(MARKETS)]  # the first save: every bucket
    for n, symbol in enumerate(MARKETS):
        ex.create_order(symbol, Side.BUY, OrderType.LIMIT, D("0.1"), D(90 + n))
    store.save(ex, 2)
    ex.on_price("BTC/USDT", D("80"), 1)  # fills BTC's buy only
    ex.on_price("ETH/USDT", D("100"), 1)  # reaches no order
    store.save(ex, 3)
    assert store.writes[1:] == [len(MARKETS), 1]
    core, _ = ex.split_snapshot(4)
    assert split_buckets(core) == {bucket_of(s): 2 for s in MARKETS} | {bucket_of("BTC/USDT"): 3}
    assert store.restore().snapshot() == ex.snapshot()


def test_an_order_forgotten_past_the_bound_leaves_its_own_bucket() -> None:
    # Orders of ETH end and push BTC's finished order out of a history of two: BTC's
    # bucket must be written again, without it, though nothing happened on BTC.
    ex = account(max_history=2)
    store = Store()
    ex.cancel_order(ex.create_order("BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.1"), D(90)).id)
    store.save(ex, 1)
    for _ in range(3):
        ex.cancel_order(ex.create_order("ETH/USDT", Side.BUY, OrderType.LIMIT, D("0.1"), D(90)).id)
    store.save(ex, 2)
    assert store.writes == [len(MARKETS), 2]
    assert store.restore().snapshot() == ex.snapshot()


def test_a_trade_forgotten_past_the_bound_leaves_its_own_bucket() -> None:
    # Trades are kept longer than orders (up to twice the bound): BTC's trade outlives
    # its order, then goes when ETH's trades pass the bound; BTC's bucket must lose it.
    ex = account(max_history=2)
    store = Store()

    def market(symbol: str) -> None:
        ex.create_order(symbol, Side.BUY, OrderType.MARKET, D("0.01"))

    market("BTC/USDT")
    store.save(ex, 1)
    market("ETH/USDT")
    market("ETH/USDT")  # BTC's order forgotten, its trade kept
    store.save(ex, 2)
    market("ETH/USDT")
    market("ETH/USDT")  # five trades: down to two, BTC's among those gone
    store.save(ex, 3)
    assert [t.symbol for t in ex.trades()] == ["ETH/USDT"] * 2
    assert store.writes[2] == 2  # ETH's bucket, and BTC's without its trade
    assert store.restore().snapshot() == ex.snapshot()


def test_a_partial_fill_rewrites_its_bucket() -> None:
    # A fill that leaves the order open changes it without ending it.
    ex = account(partial_fills=True)
    store = Store()
    order = ex.create_order("BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.5"), D(99)).id
    store.save(ex, 1)
    ex.on_candle("BTC/USDT", 0, D(100), D(100), D(98), D(98), D("0.1"))
    assert D(0) < ex.fetch_order(order).filled < D("0.5")
    store.save(ex, 2)
    assert store.writes == [len(MARKETS), 1]
    assert store.restore().fetch_order(order).filled == ex.fetch_order(order).filled


def test_a_missing_or_stale_bucket_stops_the_restore() -> None:
    ex = account()
    store = Store()
    ex.create_order("BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.1"), D("90"))
    store.save(ex, 1)
    old = dict(store.buckets)
    ex.create_order("BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.1"), D("91"))
    store.save(ex, 2)
    btc = bucket_of("BTC/USDT")
    assert store.core is not None
    with pytest.raises(ValueError, match=f"bucket {btc} holds bucket {btc} of save 1; its core"):
        PaperExchange.restore_split(store.core, {**store.buckets, btc: old[btc]})
    with pytest.raises(ValueError, match=f"bucket {btc} is missing"):
        lost = {b: v for b, v in store.buckets.items() if b != btc}
        PaperExchange.restore_split(store.core, lost)
    # A core alone is no account: it names buckets it does not hold.
    with pytest.raises(ValueError, match="split paper snapshot"):
        PaperExchange.restore(store.core)
    with pytest.raises(ValueError, match="split paper snapshot"):
        decode(store.core)


def test_a_whole_snapshot_moves_to_the_split_form_at_its_first_split_save() -> None:
    ex = paper()
    limit(ex, Side.BUY, "0.1", "95", "b0")
    limit(ex, Side.SELL, "0.1", "105", "s0")
    whole = ex.snapshot()
    assert split_buckets(whole) is None  # version 2 restores alone
    store = Store()
    store.save(PaperExchange.restore(whole), 7)
    assert store.writes == [1]
    assert store.core is not None
    assert split_buckets(store.core) == {bucket_of("BTC/USDT"): 7}
    assert store.restore().snapshot() == whole
