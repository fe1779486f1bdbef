"""The strategy actor's synchronous trading path, seen from its peers: a fake store (this
module) and the fake venue (strategy_venue.py) write one shared journal, so a test can
check the order in which the strategy's saves, their Acks and its orders happened.

- an event that arrives while a save is in flight is handled only after that save's Ack;
- a refused save is sent again with the same version, and the orders go out only after
  the ok Ack (the next event waits too);
- the idle resync still fires: an update lost with nothing after it to show the gap is
  caught by the snapshot taken once the grid has been quiet for ``resync_idle_s``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import zmq
from strategy_venue import FakeVenue
from test_strategy_actor import START, STRATEGY, TIMEOUT, grid_run, status_when, trading
from trading_support import ActorHost, serve_router, sqlite_url

from gridsup.actors.grid.actor import StrategyActor
from gridsup.actors.run_config import STORE, RunConfig, strategy_actor_name
from gridsup.app import child_specs
from gridsup.messages.common import Side
from gridsup.messages.store import (
    STORE_REPLY_CODEC,
    STORE_REQUEST_CODEC,
    Ack,
    LoadState,
    RecordTrade,
    SaveState,
    StateLoaded,
)
from gridsup.runtime.actor import StopReason
from gridsup.runtime.endpoints import RunDir
from helpers import eventually

D = Decimal
Journal = list[tuple[Any, ...]]


class FakeStore:
    """The persistence actor's end of the STORE channel, in a thread: a new grid (no
    saved state), every save journaled as ``("save", version, request_id, state)`` when
    it comes and ``("ack", version, ok)`` just before its answer leaves. Saves can be
    held (answered on :meth:`release`) or refused (``Ack(ok=False)``)."""

    def __init__(self, run_dir: RunDir, journal: Journal) -> None:
        self.journal = journal
        self._hold = False
        self._refuse = 0
        self._held: list[tuple[bytes, SaveState]] = []
        self._lock = threading.Lock()
        self._ctx: zmq.Context[Any] = zmq.Context()
        self._router = self._ctx.socket(zmq.ROUTER)
        self._router.setsockopt(zmq.LINGER, 0)
        self._router.bind(run_dir.endpoint(STORE))
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="fake-store")
        self._thread.start()

    def hold(self) -> None:
        """Keep the answers to the saves from now on until :meth:`release`."""
        with self._lock:
            self._hold = True

    def held(self) -> list[SaveState]:
        with self._lock:
            return [save for _, save in self._held]

    def release(self) -> None:
        """Answer the held saves (in the serving thread) and hold no more."""
        with self._lock:
            self._hold = False

    def refuse(self, count: int) -> None:
        """Refuse the next ``count`` saves."""
        with self._lock:
            self._refuse = count

    def close(self) -> None:
        self._closing.set()
        self._thread.join(5)
        self._router.close(0)
        self._ctx.term()

    def _answer(self, identity: bytes, request: Any) -> None:
        match request:
            case LoadState(request_id=rid, grid_id=grid_id):
                reply: Any = StateLoaded(request_id=rid, grid_id=grid_id, version=0)
            case SaveState(request_id=rid, version=version):
                ok = self._refuse == 0
                self._refuse = max(self._refuse - 1, 0)
                self.journal.append(("ack", version, ok))
                reply = Ack(request_id=rid, ok=ok, error=None if ok else "refused by the test")
            case RecordTrade(request_id=rid):
                reply = Ack(request_id=rid)
            case _:
                raise AssertionError(f"unexpected request {request!r}")
        self._router.send_multipart([identity, STORE_REPLY_CODEC.encode(reply)])

    def _serve(self) -> None:
        serve_router(self._router, self._closing, self._released, self._receive)

    def _released(self) -> tuple[()]:
        """Answer the held saves once they are not held any more (nothing else is due)."""
        with self._lock:
            if not self._hold:
                for identity, save in self._held:
                    self._answer(identity, save)
                self._held.clear()
        return ()

    def _receive(self, identity: bytes, frame: bytes) -> None:
        request = STORE_REQUEST_CODEC.decode(frame)
        with self._lock:
            if isinstance(request, SaveState):
                self.journal.append(("save", request.version, request.request_id, request.state))
                if self._hold:
                    self._held.append((identity, request))
                    return
            self._answer(identity, request)


def start_grid(host: ActorHost, run: RunConfig, **kwargs: Any) -> None:
    (spec,) = [s for s in child_specs(run) if s.name == strategy_actor_name("btc")]
    host.start(
        spec.name,
        STRATEGY,
        *spec.args,
        **spec.kwargs,
        **kwargs,
        kind="strategy",
        ready_timeout=TIMEOUT,
    )


@contextlib.contextmanager
def fake_peers(
    host: ActorHost, run_base: Path, **kwargs: Any
) -> Iterator[tuple[FakeStore, FakeVenue, Journal]]:
    """A fake store and venue sharing a journal, and grid btc trading with its 10 orders,
    every order update handled and nothing in flight."""
    journal: Journal = []
    run = grid_run(host, sqlite_url(run_base))  # the grid lock's file lives there
    store = FakeStore(host.run_dir, journal)
    venue = FakeVenue(host.run_dir, START, journal)
    try:
        start_grid(host, run, **kwargs)
        trading(venue, host, 10)
        status_when(
            host,
            lambda s: s.get("order_seq") == venue.seq("btc") and s.get("requests_pending") == 0,
            "every update handled, nothing in flight",
        )
        yield store, venue, journal
    finally:
        venue.close()
        store.close()


def placed(venue: FakeVenue, side: Side, price: str) -> Callable[[], bool]:
    return lambda: any(
        i.side is side and i.price == D(price) for i in venue.open_orders("btc").values()
    )


def index(journal: Journal, match: Callable[[tuple[Any, ...]], bool]) -> int:
    """The position of the one journal entry that ``match`` picks."""
    (found,) = [n for n, entry in enumerate(journal) if match(entry)]
    return found


def place_of(side: Side, price: str) -> Callable[[tuple[Any, ...]], bool]:
    return lambda e: e[0] == "place" and e[2] is side and e[3] == D(price)


def ack_of(version: int, ok: bool = True) -> Callable[[tuple[Any, ...]], bool]:
    return lambda e: e[0] == "ack" and e[1] == version and e[2] is ok


def saves(journal: Journal, since: int) -> list[tuple[Any, ...]]:
    return [e for e in journal[since:] if e[0] == "save"]


def test_an_event_that_comes_while_a_save_is_in_flight_waits_for_its_ack(
    actor_host: ActorHost, run_base: Path
) -> None:
    with fake_peers(actor_host, run_base) as (store, venue, journal):
        mark = len(journal)
        store.hold()
        first = venue.order_at(Side.BUY, "60000")
        second = venue.order_at(Side.BUY, "59800")

        venue.fill(first.client_order_id)
        eventually(lambda: len(store.held()) == 1, timeout=TIMEOUT, message="the save held")
        venue.fill(second.client_order_id)

        # The second fill is in, queued behind the save that waits for its Ack.
        waiting = status_when(
            actor_host,
            lambda s: s.get("events_queued") == 1 and s.get("order_seq") == venue.seq("btc") - 1,
            "the second fill queued",
        )
        (held,) = store.held()
        assert waiting["events_handled"] >= 1 and waiting["state_version"] == held.version - 1
        assert [e[1] for e in saves(journal, mark)] == [held.version]  # no save for it yet
        assert not placed(venue, Side.SELL, "60200")()

        store.release()

        eventually(
            placed(venue, Side.SELL, "60000"), timeout=TIMEOUT, message="the second's counter"
        )
        assert placed(venue, Side.SELL, "60200")()
        assert [e[1] for e in saves(journal, mark)] == [held.version, held.version + 1]
        first_ack = index(journal, ack_of(held.version))
        assert first_ack < index(journal, place_of(Side.SELL, "60200"))
        assert first_ack < index(journal, lambda e: e[0] == "save" and e[1] == held.version + 1)
        assert index(journal, ack_of(held.version + 1)) < index(
            journal, place_of(Side.SELL, "60000")
        )
        done = status_when(
            actor_host, lambda s: s.get("state_version") == held.version + 1, "both saved"
        )
        assert done["events_queued"] == 0 and done["open_orders"] == 10
        assert max(venue.created.values()) == 1


def test_a_refused_save_is_sent_again_with_its_version_and_the_orders_wait_for_the_ok(
    actor_host: ActorHost, run_base: Path
) -> None:
    with fake_peers(actor_host, run_base) as (store, venue, journal):
        mark = len(journal)
        store.refuse(2)
        first = venue.order_at(Side.BUY, "60000")
        second = venue.order_at(Side.BUY, "59800")

        venue.fill(first.client_order_id)
        eventually(
            lambda: [e for e in journal[mark:] if e[0] == "ack"],
            timeout=TIMEOUT,
            message="the first refusal",
        )
        venue.fill(second.client_order_id)  # comes while the save is being retried

        eventually(
            placed(venue, Side.SELL, "60000"), timeout=TIMEOUT, message="the second's counter"
        )
        tries = saves(journal, mark)
        version = tries[0][1]
        assert [e[1] for e in tries] == [version] * 3 + [version + 1]
        assert len({e[2] for e in tries}) == 4  # a new request each time ...
        assert len({e[3] for e in tries[:3]}) == 1  # ... of the same state
        acks = [e for e in journal[mark:] if e[0] == "ack"]
        assert acks == [("ack", version, False)] * 2 + [("ack", version, True)] + [
            ("ack", version + 1, True)
        ]
        ok = index(journal, ack_of(version))
        assert ok < index(journal, place_of(Side.SELL, "60200"))
        assert ok < index(journal, lambda e: e[0] == "save" and e[1] == version + 1)
        assert index(journal, ack_of(version + 1)) < index(journal, place_of(Side.SELL, "60000"))
        assert max(venue.created.values()) == 1


def test_a_lost_update_with_nothing_after_it_is_caught_by_the_idle_resync(
    actor_host: ActorHost, run_base: Path
) -> None:
    """No later update shows the gap; the snapshot taken after a quiet ``resync_idle_s``
    does (the default, 30 s, is longer than this test's timeout)."""
    with fake_peers(actor_host, run_base, resync_idle_s=0.3) as (_, venue, _journal):
        buy = venue.order_at(Side.BUY, "60000")
        venue.lose_updates("btc")

        venue.fill(buy.client_order_id)

        eventually(placed(venue, Side.SELL, "60200"), timeout=TIMEOUT, message="the counter sell")
        back = status_when(
            actor_host,
            lambda s: s.get("recon_phantoms_filled") == 1 and s.get("open_orders") == 10,
            "the fill found by a resync, the grid whole again",
        )
        assert back["resyncs"] >= 1  # only a snapshot could show the lost fill
        assert back["order_seq"] == venue.seq("btc")
        assert max(venue.created.values()) == 1


def test_what_a_reply_or_timer_callback_raises_crashes_the_actor(
    actor_host: ActorHost, run_base: Path
) -> None:
    """Replies and timers call back from the event loop, which would only log an error
    and leave the grid busy for ever: the actor must crash (and be restarted) instead."""
    actor = StrategyActor(grid_run(actor_host, sqlite_url(run_base)), "btc")
    boom = RuntimeError("boom")

    def callback(reply: object) -> None:
        raise boom

    actor._guarded(callback, Ack(request_id="st-1"))

    assert actor.stop_reason is StopReason.CRASHED
