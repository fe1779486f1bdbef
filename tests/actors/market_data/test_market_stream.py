"""The market-data actor on the exchange's ticker stream (the real ccxt.pro client
against the loopback exchange): prices by the stream without REST polling; a stream that
dies is detected, REST takes over, and the stream comes back when the exchange does."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
import zmq
from trading_support import ActorHost, Loopback, Subscriber, live_overrides, make_run, sqlite_url

from gridsup.actors.run_config import MARKET, topic
from gridsup.messages.market import MARKET_CODEC
from helpers import eventually

TARGET = "gridsup.actors.market_data.actor:build"
TICKERS = "GET /api/v3/ticker/24hr"


@pytest.fixture
def exchange() -> Iterator[Loopback]:
    server = Loopback("--price", "BTC/USDT=42000", "--price", "ETH/USDT=3000")
    try:
        yield server
    finally:
        server.close()


def test_prices_come_by_the_stream_and_rest_takes_over_when_it_dies(
    actor_host: ActorHost, run_base: Path, zctx: zmq.Context[Any], exchange: Loopback
) -> None:
    base = make_run(
        actor_host.run_dir,
        sqlite_url(run_base),
        (("b", "BTC/USDT", Decimal("100")), ("e", "ETH/USDT", Decimal("100"))),
        **live_overrides(exchange, market_source="exchange", tick_interval_ms=50),
    )
    run = msgspec.structs.replace(base, stream_keepalive_ms=500)
    sub = Subscriber(zctx, actor_host.run_dir.endpoint(MARKET), MARKET_CODEC, (topic("BTC/USDT"),))
    try:
        actor_host.start("market_data", TARGET, run, kind="market_data")

        def feed() -> Any:
            return actor_host.status("market_data").get("market_feed")

        eventually(lambda: feed() == "stream", timeout=20, message="on the ticker stream")
        exchange.set_price("BTC/USDT", "42900")
        eventually(
            lambda: any(t.last == Decimal("42900") for t in sub.drain()),
            message="a price after the switch",  # a REST step begun before it is done
        )
        before = exchange.admin("GET", "/admin/requests").get(TICKERS, 0)
        exchange.set_price("BTC/USDT", "43000")
        eventually(
            lambda: any(t.last == Decimal("43000") for t in sub.drain()),
            message="the streamed price reached the subscriber",
        )
        assert exchange.admin("GET", "/admin/requests").get(TICKERS, 0) == before  # no REST

        exchange.admin("POST", "/admin/ws-faults", {"kind": "outage", "stream": "market"})
        eventually(lambda: feed() == "polling", timeout=20, message="REST took over")
        exchange.set_price("BTC/USDT", "43100")
        eventually(
            lambda: any(t.last == Decimal("43100") for t in sub.drain()),
            message="the polled price reached the subscriber",
        )
        assert exchange.admin("GET", "/admin/requests").get(TICKERS, 0) > before

        exchange.admin("DELETE", "/admin/ws-faults")
        eventually(lambda: feed() == "stream", timeout=30, message="back on the stream")
        exchange.set_price("BTC/USDT", "43200")
        eventually(
            lambda: any(t.last == Decimal("43200") for t in sub.drain()),
            message="streamed again",
        )
    finally:
        sub.close()
