"""Dry-run catch-up: after a kill -9 of the execution actor, the candles of the time it
was down are replayed through the restored paper account before it acts on new ticks
(DESIGN.md, "Modes": dry_run). Real processes: persistence + execution actors, a SQLite
file, the test playing the market-data actor and a strategy's sockets."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import zmq
from actor_rig import EXECUTION, db_read, intent, orders_client, start_actors
from trading_support import ActorHost, make_run, new_id, sqlite_url
from zmq.utils.monitor import recv_monitor_message

from gridsup.actors.execution.catchup import frame_candles, inside
from gridsup.actors.run_config import MARKET, ORDER_UPDATES, topic
from gridsup.exchange.candles import save_candles
from gridsup.exchange.paper.engine import PaperExchange
from gridsup.exchange.types import Candle
from gridsup.messages.common import OrderIntent, OrderStatus
from gridsup.messages.market import MARKET_CODEC, Tick
from gridsup.messages.orders import (
    ORDER_FEED_CODEC,
    OrderAck,
    OrderUpdate,
    PlaceOrder,
)
from gridsup.store.database import Database
from gridsup.store.fills import FillRepository
from helpers import eventually, saved_paper_account

T0 = 1_704_067_200_000
MINUTE = 60_000
SYMBOL = "BTC/USDT"


def candle_file(path: Path, dip_at: int, count: int = 20) -> Path:
    """One-minute candles at 30000, except candle ``dip_at`` which trades down to 28500."""
    rows = []
    for i in range(count):
        low = 28500.0 if i == dip_at else 29950.0
        rows.append(
            {
                "timestamp": T0 + i * MINUTE,
                "open": 30000.0,
                "high": 30050.0,
                "low": low,
                "close": 30000.0,
                "volume": 10.0,
            }
        )
    save_candles(pd.DataFrame(rows), path)
    return path


def buy(level: int, price: str) -> OrderIntent:
    return intent(level, price)


def paper_in_db(url: str) -> PaperExchange:
    async def go() -> PaperExchange:
        async with Database(url) as db:
            saved = await saved_paper_account(db)
        assert saved is not None
        return saved

    return asyncio.run(go())


class Updates:
    """A strategy's SUB on ORDER_UPDATES that knows when it is connected (a socket
    monitor's handshake event), so that nothing published after that is missed."""

    def __init__(self, ctx: zmq.Context[Any], endpoint: str) -> None:
        self.sock = ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SUBSCRIBE, topic("alpha"))
        self.monitor = self.sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
        self.sock.connect(endpoint)
        self.received: list[OrderUpdate] = []

    def wait_connected(self, timeout: float = 10.0) -> None:
        if not self.monitor.poll(int(timeout * 1000)):
            pytest.fail("the update subscriber did not connect")
        event = recv_monitor_message(self.monitor)
        assert event["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED

    def drain(self) -> list[OrderUpdate]:
        while True:
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return self.received
            self.received.append(ORDER_FEED_CODEC.decode(frames[-1]))

    def close(self) -> None:
        self.sock.disable_monitor()
        self.monitor.close(0)
        self.sock.close(0)


class ReplayRig:
    def __init__(
        self, host: ActorHost, base: Path, ctx: zmq.Context[Any], source: str = "replay"
    ) -> None:
        self.host, self.ctx = host, ctx
        self.db_url = sqlite_url(base)
        candle_file(base / "BTC-USDT.csv", dip_at=6)
        self.run = make_run(
            host.run_dir,
            self.db_url,
            (("alpha", SYMBOL, Decimal("1000")),),
            market_source=source,
            market_file=str(base / "{symbol}.csv") if source == "replay" else None,
        )
        ep = host.run_dir.endpoint
        self.market = ctx.socket(zmq.PUB)
        self.market.setsockopt(zmq.LINGER, 0)
        self.market.bind(ep(MARKET))
        start_actors(host, self.run)
        self.orders = orders_client(ctx, host)

    def start_execution(self) -> None:
        self.host.start("execution", EXECUTION, self.run, kind="execution")

    def tick(self, candle: int, price: str = "30000") -> None:
        tick = Tick(symbol=SYMBOL, timestamp=T0 + candle * MINUTE, last=Decimal(price))
        self.market.send_multipart([topic(SYMBOL), MARKET_CODEC.encode(tick)])

    def wait_fed(self) -> None:
        """Tick at candle 1 until the execution actor has seen a tick."""

        def fed() -> bool:
            self.tick(1)
            return self.ticks_seen() > 0

        eventually(fed, timeout=10, interval=0.05, message="the execution actor saw a tick")

    def ticks_seen(self) -> int:
        return int(self.host.status("execution").get("ticks") or 0)

    def close(self) -> None:
        self.orders.close()
        self.market.close(0)


@pytest.fixture
def rig(
    actor_host: ActorHost, run_base: Path, zctx: zmq.Context[Any], request: pytest.FixtureRequest
) -> Iterator[ReplayRig]:
    rig = ReplayRig(actor_host, run_base, zctx, getattr(request, "param", "replay"))
    try:
        yield rig
    finally:
        rig.close()


def test_an_order_the_market_crossed_while_execution_was_down_is_filled_by_the_replay(
    rig: ReplayRig, zctx: zmq.Context[Any]
) -> None:
    # The market is at candle 1 (30000); then a buy rests at 29000: the saved account's
    # time is candle 1.
    rig.wait_fed()
    resting = buy(10, "29000")
    ack = rig.orders.request(PlaceOrder(request_id=new_id(), strategy="alpha", intent=resting))
    assert isinstance(ack, OrderAck) and ack.status is OrderStatus.OPEN
    assert paper_in_db(rig.db_url).last_timestamp() == T0 + MINUTE

    # Down while candle 6 dips to 28500; back when the market is at candle 10 (30000: the
    # new price alone crosses nothing).
    rig.host.kill("execution")
    rig.start_execution()
    updates = Updates(zctx, rig.host.run_dir.endpoint(ORDER_UPDATES))
    try:
        updates.wait_connected()
        rig.tick(10)

        def filled() -> list[OrderUpdate]:
            return [u for u in updates.drain() if u.fill is not None]

        got = eventually(filled, timeout=10, interval=0.05, message="the replayed fill's update")
        assert len(got) == 1
        update = got[0]
        assert update.client_order_id == resting.client_order_id
        assert update.status is OrderStatus.CLOSED
        assert update.fill is not None and update.fill.price == Decimal("29000")
        assert update.fill.timestamp == T0 + 6 * MINUTE  # the dip's candle
    finally:
        updates.close()

    fills = db_read(rig.db_url, lambda s: FillRepository(s).history())
    assert [(f.client_order_id, f.price) for f in fills] == [
        (resting.client_order_id, Decimal("29000"))
    ]

    # Once: another kill -9 and restart re-records what the account holds (acked as
    # duplicates) and replays nothing twice.
    rig.host.kill("execution")
    rig.start_execution()

    def gap_handled() -> bool:
        rig.tick(12)
        return rig.host.status("execution").get("market_gaps_pending") == 0

    eventually(gap_handled, timeout=10, interval=0.05, message="the second gap handled")
    # A placement waits for the gap, and is then answered.
    later = rig.orders.request(
        PlaceOrder(request_id=new_id(), strategy="alpha", intent=buy(9, "28000"))
    )
    assert isinstance(later, OrderAck) and later.status is OrderStatus.OPEN
    fills = db_read(rig.db_url, lambda s: FillRepository(s).history())
    assert len(fills) == 1


@pytest.mark.parametrize("rig", ["synthetic"], indirect=True)
def test_a_synthetic_gap_invents_nothing_and_the_new_price_crosses_what_it_crosses(
    rig: ReplayRig, zctx: zmq.Context[Any]
) -> None:
    rig.wait_fed()
    low = buy(10, "29000")
    high = buy(11, "29990")
    for order in (low, high):
        reply = rig.orders.request(PlaceOrder(request_id=new_id(), strategy="alpha", intent=order))
        assert isinstance(reply, OrderAck) and reply.status is OrderStatus.OPEN

    rig.host.kill("execution")
    rig.start_execution()
    updates = Updates(zctx, rig.host.run_dir.endpoint(ORDER_UPDATES))
    try:
        updates.wait_connected()

        # The walk has no history: whatever it did meanwhile, only the new price counts.
        # 29500 crosses the buy at 29990, not the one at 29000.
        def filled() -> list[OrderUpdate]:
            rig.tick(10, "29500")
            return [u for u in updates.drain() if u.fill is not None]

        got = eventually(filled, timeout=10, interval=0.05, message="the new price's fill")
        assert [u.client_order_id for u in got] == [high.client_order_id]
    finally:
        updates.close()
    paper = paper_in_db(rig.db_url)
    assert [t.price for t in paper.trades()] == [Decimal("29990")]
    fills = db_read(rig.db_url, lambda s: FillRepository(s).history())
    assert [f.client_order_id for f in fills] == [high.client_order_id]


def test_only_candles_wholly_inside_the_gap_are_replayed() -> None:
    candles = [Candle(T0 + i * MINUTE, *(Decimal(1),) * 5) for i in range(6)]
    # The account's time is inside candle 1 (its low may have come before); the new tick
    # is inside candle 4 (its high may come after): candles 2 and 3 only.
    picked = inside(candles, T0 + MINUTE + 15_000, T0 + 4 * MINUTE + 30_000, MINUTE)
    assert [c.timestamp for c in picked] == [T0 + 2 * MINUTE, T0 + 3 * MINUTE]
    # A gap shorter than a candle has no candle in it: nothing is replayed.
    assert inside(candles, T0 + MINUTE, T0 + 2 * MINUTE - 1, MINUTE) == []


def test_file_candles_keep_their_exact_prices(tmp_path: Path) -> None:
    path = candle_file(tmp_path / "c.csv", dip_at=2, count=4)
    from gridsup.exchange.candles import load_candles

    candles, timeframe = frame_candles(load_candles(path))
    assert timeframe == MINUTE
    assert candles[2].low == Decimal("28500.0") and candles[0].high == Decimal("30050.0")


class _PagedOhlcv:
    """``fetch_ohlcv`` of an exchange with one-minute candles from T0 on, 3 per page."""

    def __init__(self, count: int) -> None:
        self.count, self.calls = count, 0

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str, since: int | None = None, limit: int | None = None
    ) -> list[Candle]:
        self.calls += 1
        assert timeframe == "1m" and since is not None
        first = max(0, -(-(since - T0) // MINUTE))
        return [
            Candle(T0 + i * MINUTE, *(Decimal(30000),) * 4, Decimal(1))
            for i in range(first, min(first + 3, self.count))
        ]

    async def close(self) -> None:
        return None


def test_exchange_candles_of_a_gap_are_fetched_page_by_page() -> None:
    from gridsup.actors.execution.catchup import ExchangeHistory

    history = ExchangeHistory.__new__(ExchangeHistory)
    fake = _PagedOhlcv(count=20)
    history.exchange = fake  # type: ignore[assignment]
    candles = asyncio.run(history.gap(SYMBOL, T0 + MINUTE + 1, T0 + 9 * MINUTE + 5))
    assert [(c.timestamp - T0) // MINUTE for c in candles] == [2, 3, 4, 5, 6, 7, 8]
    assert fake.calls == 3  # 2-4, 5-7, 8-10: the last page reaches past the tick
