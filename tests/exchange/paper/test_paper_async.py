"""AsyncPaperExchange: the async ``Exchange`` Protocol over a real PaperExchange."""

from __future__ import annotations

import pytest
from paper_support import ETH, MARKET, SYMBOL, D, paper

from gridsup.exchange.base import Exchange
from gridsup.exchange.errors import BadSymbol, DuplicateOrder, ExchangeError, OrderNotFound
from gridsup.exchange.paper.async_adapter import AsyncPaperExchange
from gridsup.messages.common import OrderStatus, OrderType, Side

pytestmark = pytest.mark.timeout(10)


def exchange() -> AsyncPaperExchange:
    return AsyncPaperExchange(paper(markets={SYMBOL: MARKET, "ETH/USDT": ETH}, usdt="100000"))


def test_satisfies_the_exchange_protocol() -> None:
    ex = exchange()

    assert isinstance(ex, Exchange)
    assert ex.id == "paper"


async def test_a_grid_cycle_through_the_async_interface() -> None:
    ex = exchange()
    await ex.connect()
    assert set(await ex.load_markets()) == {SYMBOL, "ETH/USDT"}

    buy = await ex.create_order(SYMBOL, Side.BUY, OrderType.LIMIT, D("0.1"), D("95"), "g1b")
    assert [o.id for o in await ex.fetch_open_orders(SYMBOL)] == [buy.id]
    ex.paper.on_candle(SYMBOL, 60_000, D(100), D(101), D(94), D(96), D(10))
    filled = await ex.fetch_order(SYMBOL, client_order_id="g1b")
    assert filled.status is OrderStatus.CLOSED
    sell = await ex.create_order(SYMBOL, Side.SELL, OrderType.LIMIT, D("0.1"), D("100"), "g1s")
    cancelled = await ex.cancel_order(sell.id, SYMBOL)

    assert cancelled.status is OrderStatus.CANCELED
    assert await ex.fetch_open_orders() == []
    assert [t.order_id for t in await ex.fetch_my_trades(SYMBOL)] == [buy.id]
    balance = await ex.fetch_balance()
    assert balance.total("BTC") == D("1.1")
    ticker = await ex.fetch_ticker(SYMBOL)
    assert (ticker.last, ticker.timestamp) == (D(96), 60_000)
    await ex.close()


async def test_errors_are_the_protocol_errors() -> None:
    ex = exchange()
    order = await ex.create_order(SYMBOL, Side.BUY, OrderType.LIMIT, D("0.1"), D("95"), "x")

    with pytest.raises(DuplicateOrder):
        await ex.create_order(SYMBOL, Side.BUY, OrderType.LIMIT, D("0.1"), D("95"), "x")
    with pytest.raises(OrderNotFound):
        await ex.fetch_order("ETH/USDT", order.id)
    with pytest.raises(OrderNotFound):
        await ex.cancel_order(order.id, "ETH/USDT")
    with pytest.raises(BadSymbol):
        await ex.fetch_ticker("DOGE/USDT")
    with pytest.raises(ExchangeError, match="no price known yet"):
        await ex.fetch_ticker(SYMBOL)
    with pytest.raises(ExchangeError, match="holds no candles"):
        await ex.fetch_ohlcv(SYMBOL)


async def test_tickers_list_only_symbols_with_a_price() -> None:
    ex = exchange()
    ex.paper.on_price("ETH/USDT", D("10"), 5)

    tickers = await ex.fetch_tickers()

    assert list(tickers) == ["ETH/USDT"]
    assert tickers["ETH/USDT"].last == D("10")
    with pytest.raises(BadSymbol):
        await ex.fetch_tickers(["NOPE/USDT"])


@pytest.mark.parametrize(
    ("since", "limit", "expected"),
    [
        (None, None, [1, 2, 3, 4]),
        (None, 2, [3, 4]),  # the most recent, as Binance answers without a start
        (2, 2, [2, 3]),  # the first ones from ``since`` on
        (3, None, [3, 4]),
        (None, 0, []),
    ],
)
async def test_trades_and_candles_honour_since_and_limit(
    since: int | None, limit: int | None, expected: list[int]
) -> None:
    ex = exchange()
    for ts in (1, 2, 3, 4):
        await ex.create_order(SYMBOL, Side.BUY, OrderType.LIMIT, D("0.1"), D(100 - ts))
    for ts in (1, 2, 3, 4):
        ex.paper.on_candle(SYMBOL, ts, D(101 - ts), D(101 - ts), D(100 - ts), D(100 - ts), D(1))

    trades = await ex.fetch_my_trades(SYMBOL, since, limit)
    candles = await ex.fetch_ohlcv(SYMBOL, "1m", since, limit)

    assert [t.timestamp for t in trades] == expected
    assert [c.timestamp for c in candles] == expected
