"""The live path over websocket: the execution actor (a real process) follows fills by
the loopback exchange's user-data stream through the real ccxt.pro client, with every
stream fault injected: disconnect, outage (events lost while down), silence, expiry of
the subscription, lost, out-of-order and duplicated events — and a stream that dies for
good, where polling takes over within the request budget, and keys the venue refuses,
where the account pauses without a reconnect storm. Each run ends with the books
checked: one order per client id, every fill booked exactly once, nothing left
untracked, and the exchange's balances equal to the start plus the fills in the
database, fees included."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import zmq
from actor_rig import ExecutionRig
from desk_parts import limit_intent
from trading_support import (
    ActorHost,
    Loopback,
    live_overrides,
    make_run,
    new_id,
    sqlite_url,
)

from gridsup.messages.common import OrderIntent, Side
from gridsup.messages.orders import (
    OrderAck,
    OrderRejected,
    OrderSnapshot,
    OrderUpdate,
)
from gridsup.store.database import Database
from gridsup.store.fills import FillRepository
from helpers import eventually

START = {"USDT": Decimal("10000"), "BTC": Decimal("1")}


class StreamRig(ExecutionRig):
    """Persistence + execution actors (live, on the stream) against a fresh loopback."""

    def __init__(
        self, host: ActorHost, db_url: str, ctx: zmq.Context[Any], loopback: Loopback, **kw: Any
    ) -> None:
        self.loopback = loopback
        self.grid = f"g{new_id()[:8]}"
        fields = {
            "stream_keepalive_ms": 500,
            "stream_audit_s": 2.0,
            "stream_retry_s": 1.0,
            "poll_interval_ms": 200,
            **kw,
        }
        run = make_run(
            host.run_dir,
            db_url,
            ((self.grid, "BTC/USDT", Decimal("5000")),),
            **live_overrides(loopback, **fields),
        )
        super().__init__(host, db_url, ctx, run)

    def intent(self, level: int, price: str, side: Side = Side.BUY) -> OrderIntent:
        return limit_intent(self.grid, level, price, side=side, cycle=1)

    def snapshot(self) -> OrderSnapshot:
        return self.query()

    def feed(self) -> Any:
        return self.host.status("execution").get("order_feed")

    def fill_updates(self) -> list[OrderUpdate]:
        mine = [u for u in self.updates.drain() if u.strategy == self.grid]
        return [u for u in mine if u.fill is not None]


@pytest.fixture
def fresh_loopback() -> Iterator[Loopback]:
    server = Loopback("--price", "BTC/USDT=42000", "--balance", "USDT=10000", "--balance", "BTC=1")
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def make_rig(
    actor_host: ActorHost, run_base: Path, zctx: zmq.Context[Any], fresh_loopback: Loopback
) -> Iterator[Any]:
    rigs: list[StreamRig] = []

    def make(**kw: Any) -> StreamRig:
        rig = StreamRig(actor_host, sqlite_url(run_base), zctx, fresh_loopback, **kw)
        rigs.append(rig)
        return rig

    try:
        yield make
    finally:
        for rig in rigs:
            rig.close()


def db_fills(url: str) -> list[Any]:
    async def go() -> Any:
        async with Database(url) as db, db.session() as session:
            return list(await FillRepository(session).history())

    return list(asyncio.run(go()))


def assert_books_balance(rig: StreamRig, cids: list[str]) -> None:
    """One order per client id, every fill once, nothing untracked, money adds up."""
    fills = db_fills(rig.db_url)
    assert len({f.trade_id for f in fills}) == len(fills), "a fill was booked twice"
    by_cid = rig.loopback.orders_by_client_id()
    assert all(len(by_cid[c]) == 1 for c in cids), "a client id was placed twice"
    # Every fill reached the strategy exactly once, with the trade the database holds.
    updates = rig.fill_updates()
    assert sorted(u.fill.trade_id for u in updates if u.fill) == sorted(f.trade_id for f in fills)
    # No orphan: what the exchange holds open for the grid is what the actor tracks.
    exchange_open = {c for c in rig.loopback.admin("GET", "/admin/open-orders") if c in cids}
    tracked_open = {o.intent.client_order_id for o in rig.snapshot().orders}
    assert tracked_open == exchange_open
    # Exchange holdings = start + what the fills in the database say, fees included.
    delta: dict[str, Decimal] = defaultdict(Decimal)
    for f in fills:
        sign = 1 if f.side is Side.BUY else -1
        delta["BTC"] += sign * f.amount
        delta["USDT"] -= sign * f.amount * f.price
        delta[f.fee_currency or "USDT"] -= f.fee
    balance = rig.loopback.admin("GET", "/admin/balance")
    for asset, start in START.items():
        total = Decimal(balance["free"].get(asset, "0")) + Decimal(balance["used"].get(asset, "0"))
        assert total == start + delta[asset], asset


FAULTS: dict[str, list[dict[str, Any]]] = {
    "disconnect": [{"kind": "disconnect"}],
    "outage": [{"kind": "outage", "seconds": 1.5}],  # events while down are lost
    "silence": [{"kind": "silence", "seconds": 2.0}],  # open, but no events, no pongs
    "expire": [{"kind": "expire"}],
    "lost": [{"kind": "drop", "count": 2}],
    "out_of_order": [{"kind": "reorder", "count": 4}],
    "duplicated": [{"kind": "duplicate", "count": 6}],
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_every_fill_is_booked_once_through_stream_faults(make_rig: Any, fault: str) -> None:
    rig = make_rig()
    eventually(lambda: rig.feed() == "stream", timeout=20, message="on the stream")
    buys = [rig.intent(level, str(41000 - 100 * level)) for level in range(1, 5)]
    for intent in buys:
        assert isinstance(rig.place(intent), OrderAck)

    rig.loopback.admin("POST", "/admin/ws-faults", FAULTS[fault])
    rig.loopback.set_price("BTC/USDT", "40500")  # the four buys (40900..40600) fill
    sell = rig.intent(1, "41500", Side.SELL)
    assert isinstance(rig.place(sell), OrderAck)
    rig.loopback.set_price("BTC/USDT", "41600")  # the sell fills too

    cids = [i.client_order_id for i in [*buys, sell]]
    eventually(lambda: len(rig.fill_updates()) >= 5, timeout=30, message="five fills booked")
    rig.loopback.admin("DELETE", "/admin/ws-faults")
    eventually(lambda: rig.feed() == "stream", timeout=20, message="back on the stream")
    assert_books_balance(rig, cids)
    assert rig.snapshot().orders == ()  # all five closed


SHARE = 0.25  # of Binance's 6000 a minute: the budget the fallback must keep within


def weight_per_minute(rig: StreamRig, since_ms: int, until_ms: int) -> float:
    """REST weight the loopback charged between the two times, as a rate per minute."""
    log = rig.loopback.admin("GET", "/admin/request_log")["requests"]
    weight = sum(r["weight"] for r in log if since_ms <= r["time_ms"] <= until_ms)
    return weight * 60_000 / max(1, until_ms - since_ms)


def test_polling_takes_over_within_the_budget_when_the_stream_dies_for_good(
    make_rig: Any,
) -> None:
    rig = make_rig(stream_fallback_after=2, stream_retry_s=30.0, request_budget_share=SHARE)
    eventually(lambda: rig.feed() == "stream", timeout=20, message="on the stream")
    rig.loopback.admin("POST", "/admin/ws-faults", {"kind": "outage", "stream": "user"})
    eventually(lambda: rig.feed() == "polling", timeout=30, message="polling took over")
    status = rig.host.status("execution")
    since, polls = status["order_feed_since"], status["order_polls"]
    start_ms = int(time.time() * 1000)
    buys = [rig.intent(level, str(41000 - 100 * level)) for level in range(1, 3)]
    for intent in buys:
        assert isinstance(rig.place(intent), OrderAck)
    rig.loopback.set_price("BTC/USDT", "40000")
    eventually(lambda: len(rig.fill_updates()) >= 2, timeout=20, message="polled fills")
    # Several rounds of the poll plan (1 s each here: one symbol, 6 % of the limit).
    eventually(
        lambda: rig.host.status("execution")["order_polls"] >= polls + 6,
        timeout=20,
        message="polling went on",
    )
    used = weight_per_minute(rig, start_ms, int(time.time() * 1000))

    assert rig.feed() == "polling" and rig.host.status("execution")["order_feed_since"] == since
    # The fallback polled through the plan and the shared budget: the exchange's own
    # count stays under the configured share (polling every symbol every 200 ms, as the
    # fallback did, would take 24,000 a minute).
    assert used <= SHARE * 6000, f"{used:.0f} weight a minute"
    assert_books_balance(rig, [i.client_order_id for i in buys])


def refused_requests(rig: StreamRig, since_ms: int) -> list[dict[str, Any]]:
    log = rig.loopback.admin("GET", "/admin/request_log")["requests"]
    return [r for r in log if r["time_ms"] >= since_ms]


def test_refused_keys_pause_the_account_without_a_reconnect_storm(make_rig: Any) -> None:
    rig = make_rig(account_probe_s=1.5)
    eventually(lambda: rig.feed() == "stream", timeout=20, message="on the stream")
    buy = rig.intent(1, "40900")
    assert isinstance(rig.place(buy), OrderAck)

    # The venue refuses the keys, and the stream drops: the follower must subscribe again.
    rig.loopback.admin("POST", "/admin/config", {"keys_refused": True})
    rig.loopback.admin("POST", "/admin/ws-faults", {"kind": "disconnect"})
    eventually(
        lambda: rig.feed() == "paused" and rig.host.status("execution").get("account_paused"),
        timeout=20,
        message="the account paused",
    )
    paused_ms = int(time.time() * 1000)
    before = rig.loopback.admin("GET", "/admin/streams")
    refused = rig.place(rig.intent(2, "40800"))  # answered at once, nothing sent
    # Two probes (one request each, refused), 1.5 s apart.
    eventually(lambda: len(refused_requests(rig, paused_ms)) >= 2, timeout=10, message="probes")
    window = refused_requests(rig, paused_ms)
    after = rig.loopback.admin("GET", "/admin/streams")

    assert isinstance(refused, OrderRejected) and refused.retryable
    assert refused.reason.startswith("account paused")
    # No reconnect loop: not one subscription tried while paused, and the only REST
    # requests are the probes (a poll loop would have sent one every 200 ms).
    assert after["subscribe_attempts"] == before["subscribe_attempts"]
    assert after["connections"]["user"] == before["connections"]["user"]
    assert len(window) == 2 and all(r["status"] == 401 for r in window), window

    # The keys work again: the next probe resumes the account and the stream.
    rig.loopback.admin("POST", "/admin/config", {"keys_refused": False})
    eventually(
        lambda: rig.feed() == "stream" and not rig.host.status("execution").get("account_paused"),
        timeout=20,
        message="resumed on the stream",
    )
    rig.loopback.set_price("BTC/USDT", "40500")  # the first buy fills
    eventually(lambda: len(rig.fill_updates()) >= 1, timeout=20, message="the fill booked")
    assert rig.intent(2, "40800").client_order_id not in rig.loopback.orders_by_client_id()
    assert_books_balance(rig, [buy.client_order_id])


def test_steady_state_on_the_stream_costs_no_polling(make_rig: Any) -> None:
    rig = make_rig(stream_audit_s=60.0)
    eventually(lambda: rig.feed() == "stream", timeout=20, message="on the stream")
    buys = [rig.intent(level, str(41000 - 100 * level)) for level in range(1, 4)]
    for intent in buys:
        assert isinstance(rig.place(intent), OrderAck)
    before = rig.loopback.admin("GET", "/admin/requests")
    rig.loopback.set_price("BTC/USDT", "40000")
    eventually(lambda: len(rig.fill_updates()) >= 3, timeout=20, message="streamed fills")
    after = rig.loopback.admin("GET", "/admin/requests")
    # The fills came by the stream: not one REST request was needed to learn them.
    assert {k: v for k, v in after.items() if before.get(k) != v} == {}
    eventually(
        lambda: rig.host.status("execution").get("stream_events", 0) >= 6,  # 3 NEW, 3 TRADE
        message="the events counted in the status",
    )
    assert_books_balance(rig, [i.client_order_id for i in buys])


def test_status_shows_per_account_whether_it_streams_or_polls_and_since_when() -> None:
    from gridsup.commands.control import feed_line, feed_rows
    from gridsup.messages.control import ActorStatus, StatusReply

    since = 1_796_500_000_000
    reply = StatusReply(
        supervisor_pid=1,
        uptime=1.0,
        state="running",
        actors=(
            ActorStatus(
                name="execution",
                kind="execution",
                state="running",
                status={"order_feed": "polling", "order_feed_since": since},
            ),
            ActorStatus(
                name="market_data",
                kind="market_data",
                state="running",
                status={"market_feed": "stream", "market_feed_since": since},
            ),
            ActorStatus(name="grid-a", kind="strategy", state="running", status={}),
        ),
    )

    assert feed_rows(reply) == [
        {"actor": "execution", "what": "fills", "feed": "polling", "since": "2026-12-05 19:46:40"},
        {
            "actor": "market_data",
            "what": "prices",
            "feed": "stream",
            "since": "2026-12-05 19:46:40",
        },
    ]
    assert [feed_line(row) for row in feed_rows(reply)] == [
        "execution: fills by polling since 2026-12-05 19:46:40",
        "market_data: prices by stream since 2026-12-05 19:46:40",
    ]
    paused = {"order_feed": "paused", "order_feed_since": since, "account_paused": "-2015"}
    execution = ActorStatus(name="execution", kind="execution", state="running", status=paused)
    row = feed_rows(
        StatusReply(supervisor_pid=1, uptime=1.0, state="running", actors=(execution,))
    )[0]
    assert feed_line(row) == "execution: fills paused since 2026-12-05 19:46:40"


def test_a_chaos_run_with_faults_at_random_books_every_fill_once(make_rig: Any) -> None:
    """Three rounds of fills (buys down, then their sells up), each with a fault drawn
    at random (seeded: a failure can be replayed) injected between two fills."""
    import random

    rng = random.Random(15)
    rig = make_rig()
    eventually(lambda: rig.feed() == "stream", timeout=20, message="on the stream")
    cids: list[str] = []
    expected = 0
    for round_ in range(3):
        base = 41000 - 1000 * round_
        buys = [rig.intent(10 * round_ + i, str(base - 100 * i)) for i in range(1, 4)]
        for intent in buys:
            assert isinstance(rig.place(intent), OrderAck)
        rig.loopback.admin("POST", "/admin/ws-faults", FAULTS[rng.choice(sorted(FAULTS))])
        rig.loopback.set_price("BTC/USDT", str(base - 150))  # the first buy fills
        rig.loopback.admin("POST", "/admin/ws-faults", FAULTS[rng.choice(sorted(FAULTS))])
        rig.loopback.set_price("BTC/USDT", str(base - 400))  # the other two
        sells = [rig.intent(10 * round_ + i, str(base + 100 * i), Side.SELL) for i in (1, 2)]
        for intent in sells:
            assert isinstance(rig.place(intent), OrderAck)
        rig.loopback.set_price("BTC/USDT", str(base + 300))  # both sells fill
        cids += [i.client_order_id for i in [*buys, *sells]]
        expected += 5
        eventually(
            lambda n=expected: len(rig.fill_updates()) >= n,
            timeout=40,
            message=f"round {round_}: every fill booked",
        )
        rig.loopback.admin("DELETE", "/admin/ws-faults")
    eventually(lambda: rig.feed() == "stream", timeout=20, message="back on the stream")
    assert_books_balance(rig, cids)
