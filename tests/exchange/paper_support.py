"""Shared set-up for the paper exchange tests: one market with Binance-like rules."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from gridsup.exchange.paper.engine import PaperExchange
from gridsup.exchange.types import Trade
from gridsup.messages.common import OrderType, Side
from gridsup.messages.market import MarketInfo

D = Decimal
SYMBOL = "BTC/USDT"
MARKET = MarketInfo(
    symbol=SYMBOL,
    base="BTC",
    quote="USDT",
    price_step=D("0.01"),
    amount_step=D("0.0001"),
    min_amount=D("0.0001"),
    min_notional=D("5"),
    maker_fee=D("0.001"),
    taker_fee=D("0.002"),
)
ETH = MarketInfo(symbol="ETH/USDT", base="ETH", quote="USDT", price_step=D("0.01"))


def paper(
    usdt: str = "10000",
    btc: str = "1",
    markets: Mapping[str, MarketInfo] | None = None,
    **kwargs: object,
) -> PaperExchange:
    return PaperExchange(
        markets if markets is not None else {SYMBOL: MARKET},
        {"USDT": D(usdt), "BTC": D(btc)},
        **kwargs,  # type: ignore[arg-type]
    )


def limit(ex: PaperExchange, side: Side, amount: str, price: str, cid: str | None = None) -> str:
    return ex.create_order(SYMBOL, side, OrderType.LIMIT, D(amount), D(price), cid).id


def candle(
    ex: PaperExchange, o: str, h: str, lo: str, c: str, v: str = "100", ts: int = 0
) -> list[Trade]:
    return ex.on_candle(SYMBOL, ts, D(o), D(h), D(lo), D(c), D(v))


def holdings(ex: PaperExchange, asset: str) -> Decimal:
    return ex.balance().total(asset)
