"""``StrategyActor``: one grid, one process, for the grid's whole life.

Start (``on_start``, before Ready): take the grid's lock (held elsewhere: log
``grid_locked`` and exit :data:`EXIT_LOCKED`), load the last state, ask the execution
actor for its open orders and the fate of every tracked one, reconcile, save, send what
reconciliation produced (loading and reconciling: :mod:`~gridsup.actors.grid.start`).
A grid paused on request (the state load says so) stops after the load, paused
(``held``): it reconciles and sends only once resumed.
Then trade: ticks and order updates drive the strategy; after every order event the
state is saved and its Ack awaited before the orders the event produced go out, and
before the next event is handled (events queue meanwhile) -- the commits of
:class:`~gridsup.actors.grid.commit.GridCommitter`. The trading path
(:mod:`~gridsup.actors.grid.trading`) is synchronous, driven by callbacks (the message,
the replies, a timer): no task, no event, no ``wait_for`` between a price move and its
orders. A gap in the order updates, a Resume or a quiet spell resyncs: the same query
and reconciliation as a start.

Ticks are listened to only while the strategy can use one: a running grid without
stop-loss/take-profit unsubscribes from its symbol on the MARKET socket and subscribes
again once its band is finite or None (:class:`~gridsup.actors.grid.ticks.TickGate`).
States and failures: :mod:`~gridsup.actors.grid.lifecycle`; the status fields:
:mod:`~gridsup.actors.grid.status`.

This process imports msgspec, pyzmq, structlog and ``gridsup.strategy`` -- never ccxt,
pandas or SQLAlchemy (its grid lock speaks asyncpg directly).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Sequence
from typing import Any, assert_never

import structlog
import zmq.asyncio

from gridsup.actors.grid.commit import GridCommitter
from gridsup.actors.grid.context import OutboxContext
from gridsup.actors.grid.lifecycle import CANCEL_ON_STOP_STATES, GridActorState, GridLockLost
from gridsup.actors.grid.orders import OrderLink
from gridsup.actors.grid.start import load_state, reconcile
from gridsup.actors.grid.status import GridParts, grid_status
from gridsup.actors.grid.ticks import TickGate
from gridsup.actors.grid.trading import GridTrading
from gridsup.actors.run_config import MARKET, ORDER_UPDATES, ORDERS, STORE, RunConfig, topic
from gridsup.messages.control import Pause, Resume, StatusValue
from gridsup.messages.market import MARKET_CODEC, MarketMessage, Tick
from gridsup.messages.orders import (
    ORDER_FEED_CODEC,
    ORDER_REPLY_CODEC,
    ORDER_REQUEST_CODEC,
    OrderFeed,
    OrderRejected,
    OrderUpdate,
)
from gridsup.messages.store import STORE_REPLY_CODEC, STORE_REQUEST_CODEC, StoreReply
from gridsup.runtime.actor import Actor, RuntimeInfo, StopReason
from gridsup.runtime.endpoints import RunDir
from gridsup.runtime.requests import Requester
from gridsup.runtime.sockets import Receiver, SocketSpec, SocketType
from gridsup.store.locks import AsyncpgAdvisoryLock, GridLock, grid_lock
from gridsup.strategy.grid import GridTradingStrategy
from gridsup.strategy.grid.config import GridConfig
from gridsup.strategy.reconcile import ReconciliationResult

log = structlog.get_logger("gridsup.actors.strategy")

EXIT_LOCKED = 75  # EX_TEMPFAIL: another process holds this grid's lock
_RESYNC_IDLE_S = 30.0  # no event for this long: compare with a snapshot anyway


class StrategyActor(Actor):
    """The actor of grid ``grid_name`` of ``run``."""

    def __init__(
        self,
        run: RunConfig,
        grid_name: str,
        *,
        strategy: GridTradingStrategy | None = None,
        lock: GridLock | None = None,
        resync_idle_s: float = _RESYNC_IDLE_S,
    ) -> None:
        """Raises:
        KeyError: no grid ``grid_name`` in the run, or no market for its symbol.
        pydantic.ValidationError: the grid's config does not validate.
        """
        super().__init__()
        self.run_config = run
        self.spec = run.grid(grid_name)
        self.market = run.markets[self.spec.symbol]
        self.strategy = strategy or GridTradingStrategy(
            GridConfig.model_validate(self.spec.config), grid_id=self.spec.grid_id
        )
        self.outbox = OutboxContext(self.market)
        self.lock = lock
        self.grid_state = GridActorState.STARTING
        self.exit_code: int | None = None
        self.reconciliation: ReconciliationResult | None = None
        self._recon_status: dict[str, str | int | bool] = {}
        self._ticks = TickGate(
            lambda on: self.subscribe(MARKET, topic(self.spec.symbol), on=on), self.spec.name
        )
        # Paused (a Pause command): nothing is applied or placed; ticks and order
        # events wait, and a Resume reconciles first (docs/web.md, "Actions").
        self.paused = False
        self.trading = GridTrading(
            self.strategy,
            self.outbox,
            self.spec.name,
            state=lambda: self.grid_state,
            held=lambda: self.stop_reason is not None or self.paused,
            resync=lambda: self.spawn(self._resynced()),
            settled=self._follow_band,
            raise_alert=self.raise_alert,
        )
        self.resync_idle_s = resync_idle_s
        self._idle: asyncio.TimerHandle | None = None
        self._store: Requester[StoreReply] | None = None
        self._orders: OrderLink | None = None
        self._committer: GridCommitter | None = None  # saves, trade records, then orders

    # ------------------------------------------------------------------------- sockets

    def sockets(self) -> Sequence[SocketSpec]:
        run = self.run_config
        base = RunDir.attach(run.run_dir) if run.run_dir else self.run_dir
        assert base is not None
        return (
            SocketSpec(
                MARKET,
                SocketType.SUB,
                base.endpoint(MARKET),
                recv=Receiver(MARKET_CODEC, self.on_market),
                subscribe=(topic(self.spec.symbol),),
            ),
            SocketSpec(
                ORDER_UPDATES,
                SocketType.SUB,
                base.endpoint(ORDER_UPDATES),
                recv=Receiver(ORDER_FEED_CODEC, self.on_order_feed),
                subscribe=(topic(self.spec.name),),
            ),
            # No recv codec: the Requesters read these two themselves (also during start).
            SocketSpec(ORDERS, SocketType.DEALER, base.endpoint(ORDERS), send=ORDER_REQUEST_CODEC),
            SocketSpec(STORE, SocketType.DEALER, base.endpoint(STORE), send=STORE_REQUEST_CODEC),
        )

    # -------------------------------------------------------------------------- start

    async def run(self, info: RuntimeInfo, ctx: zmq.asyncio.Context) -> int:
        """The runtime's template, with :data:`EXIT_LOCKED` when the lock was refused."""
        code = await super().run(info, ctx)
        return self.exit_code if code == 0 and self.exit_code is not None else code

    async def on_start(self) -> None:
        structlog.contextvars.bind_contextvars(grid=self.spec.name)
        if self.lock is None:
            self.lock = grid_lock(
                self.run_config.db_url,
                self.spec.grid_id,
                check_timeout_s=self.run_config.lock_timeout_s,
                idle_session_timeout_s=self.run_config.lock_idle_timeout_s,
            )
        if not await self.lock.acquire():
            log.error("grid_locked", grid=self.spec.name, note="another process runs this grid")
            self.grid_state = GridActorState.LOCKED
            self.exit_code = EXIT_LOCKED
            self.request_stop(StopReason.SELF)
            return
        timeout = self.run_config.state_timeout_s
        self._store = Requester(self, STORE, STORE_REPLY_CODEC, prefix="st", timeout=timeout)
        orders = Requester(self, ORDERS, ORDER_REPLY_CODEC, prefix="or", timeout=timeout)
        self._orders = OrderLink(
            orders,
            self.spec.name,
            self.spec.symbol,
            refused=self._refused,
            # Paused: retries wait too; the Resume's reconcile sends what is still wanted.
            wanted=lambda cid: (
                self.grid_state is GridActorState.TRADING
                and not self.paused
                and self.strategy.tracks(cid)
            ),
        )
        run = self.run_config
        self._committer = GridCommitter(
            self._store,
            self._orders,
            self.strategy,
            self.spec,
            "paper" if run.dry_run else run.exchange_id,  # as the execution actor records
            guarded=self._guarded,
            stopping=lambda: self.stop_reason is not None,
            done=self.trading.resume,
        )
        self.trading.committer = self._committer
        for requester in (self._store, orders):
            self.spawn(requester.run())
            self.spawn(requester.resend_loop())
        if isinstance(self.lock, AsyncpgAdvisoryLock):
            self.spawn(self._watch_lock())
        paused = await load_state(self._store, self._committer, self.strategy, self.spec)
        self.strategy.initialize(self.outbox)
        if paused:
            # Paused on request before this start: nothing goes out, not even what a
            # reconciliation would send (a counter order for a fill while it was down,
            # a re-sent placement); the Resume reconciles first (on_control).
            self.paused = True
            self.grid_state = GridActorState.HELD
            log.info("grid_paused", grid=self.spec.name, reason="paused before this start")
        else:
            await self._reconcile()
        self._follow_band()  # a restored running grid stops listening before its first tick
        self.trading.resume()  # what came during the start
        self._idle = asyncio.get_running_loop().call_later(
            self.resync_idle_s, self._guarded, self._on_idle
        )

    async def _reconcile(self) -> None:
        """Query, compare, apply; a start and every resync go through here."""
        self.grid_state = GridActorState.RECONCILING
        assert self._orders is not None
        snapshot = await self._orders.query(tuple(self.strategy.tracked_orders()))
        self.trading.seq, self.trading.epoch = snapshot.seq, snapshot.epoch
        assert self._committer is not None
        result = reconcile(
            self.strategy, snapshot, self.spec, self.run_config, self._committer.unsent
        )
        if result.aborted:
            # Nothing applied, nothing saved: a later start sees the same evidence.
            self._set_reconciliation(result)
            self.grid_state = GridActorState.ABORTED
            log.error("grid_aborted", grid=self.spec.name, reason="reconciliation_mismatch")
            return
        # The status keeps the start's result, and a later resync's only if it did something.
        if self.reconciliation is None or result.changed:
            self._set_reconciliation(result)
            log.info(
                "grid_reconciled",
                grid=self.spec.name,
                **{k: v for k, v in result.status().items() if not k.endswith("_ids")},
            )
        assert self._committer is not None
        # The actor is busy already (the start, or a resync): no event runs meanwhile.
        await self._committer.committed(self.outbox.take(), result.resent)
        self.grid_state = GridActorState.TRADING
        # Cancels asked for and not confirmed (a cut partial buy): sent again.
        if sent := self._orders.resend_cancels(self.strategy.cancels_requested()):
            log.info("grid_cancels_resent", grid=self.spec.name, count=sent)

    # ------------------------------------------------------------------------ trading
    #
    # The handlers take what the grid can use and hand it to the trading path
    # (actors/grid/trading.py), which applies it in turn, committing as it goes.

    @property
    def resyncs(self) -> int:
        return self.trading.resyncs

    @property
    def events_handled(self) -> int:
        return self.trading.events_handled

    @property
    def fills_seen(self) -> int:
        """Order updates with a fill handled by this process."""
        return self.trading.fills_seen

    @property
    def alerts_raised(self) -> int:
        return self.trading.alerts_raised

    def on_market(self, message: MarketMessage, envelope: list[bytes]) -> None:
        """MARKET's handler: the latest tick wins (it waits behind queued events)."""
        if self.grid_state is GridActorState.ABORTED:
            return
        match message:
            case Tick():
                if self._ticks.wakes(self.strategy, message):
                    self.trading.tick(message)
            case _:
                assert_never(message)

    def on_order_feed(self, message: OrderFeed, envelope: list[bytes]) -> None:
        """ORDER_UPDATES' handler: queued, and applied in turn."""
        if self.grid_state is GridActorState.ABORTED:
            return
        match message:
            case OrderUpdate():
                self.trading.update(message)
            case _:
                assert_never(message)

    async def _resynced(self) -> None:
        """A resync as a task (it awaits a query); the events wait until it is done."""
        await self._reconcile()
        self.trading.resume()

    def _on_idle(self) -> None:
        """The idle timer (:meth:`GridTrading.idle`): one timer, moved lazily."""
        if self.stop_reason is not None:
            return
        wait = self.trading.idle(self.resync_idle_s)
        self._idle = asyncio.get_running_loop().call_later(wait, self._guarded, self._on_idle)

    def on_control(self, message: Pause | Resume) -> None:
        """Pause: apply nothing and place nothing more (open orders stay on the exchange;
        a commit in flight completes). Resume: reconcile (what filled meanwhile gets its
        counter orders and profit) and trade again."""
        match message:
            case Pause():
                if not self.paused:
                    self.paused = True
                    log.info("grid_paused", grid=self.spec.name, reason=message.reason)
            case Resume():
                if self.paused:
                    self.paused = False
                    log.info("grid_resumed", grid=self.spec.name, reason=message.reason)
                    self.trading.resync_soon()
            case _ as unreachable:
                assert_never(unreachable)

    def _follow_band(self) -> None:
        """Ticks on or off, as the strategy can use them: :meth:`TickGate.follow`."""
        self._ticks.follow(self.strategy, aborted=self.grid_state is GridActorState.ABORTED)

    def _set_reconciliation(self, result: ReconciliationResult) -> None:
        self.reconciliation = result
        self._recon_status = result.status()  # immutable: flattened once, not per heartbeat

    # ----------------------------------------------------------------------- callbacks

    def _guarded(self, callback: Callable[..., None], *args: Any) -> None:
        """Run a reply or timer callback: what it raises crashes the actor, as in a hook
        (the event loop would only log it and leave the grid stuck busy)."""
        try:
            callback(*args)
        except Exception as exc:
            self._crashed(exc)

    def _refused(self, rejection: OrderRejected) -> None:
        """A placement refused for good: an event for the strategy, in turn."""
        self._guarded(self.trading.refused, rejection)  # called back from a reply

    async def _watch_lock(self) -> None:
        assert self.lock is not None
        while True:
            await asyncio.sleep(self.run_config.lock_check_s)
            if not await self.lock.check():
                raise GridLockLost(f"grid {self.spec.name}: lock session lost")

    # --------------------------------------------------------------------------- stop

    async def on_stop(self, reason: StopReason) -> None:
        if self._idle is not None:
            self._idle.cancel()
        if (
            self.cancel_orders
            and self._orders is not None
            and self.grid_state in CANCEL_ON_STOP_STATES
        ):
            # The next start reconciles what the answers said.
            timeout = (self.info.stop_timeout if self.info else 5.0) / 2
            await self._orders.cancel_all(self.strategy.tracked_orders(), timeout)
        self.strategy.shutdown()
        if self.lock is not None:
            await self.lock.release()

    # ------------------------------------------------------------------------- status

    def status(self) -> dict[str, StatusValue]:
        parts = GridParts(
            ticks=self._ticks,
            committer=self._committer,
            orders=self._orders,
            store=self._store,
            events_queued=self.trading.queued,
            order_seq=self.trading.seq,
            reconciliation=self._recon_status,
        )
        return grid_status(self, parts)


def build(
    run: RunConfig, grid_name: str, resync_idle_s: float = _RESYNC_IDLE_S, **_: Any
) -> StrategyActor:
    """ChildSpec target ``gridsup.actors.grid.actor:build`` (``resync_idle_s``: a large
    fleet spaces its idle resyncs out, ``app.fleet_strategy_kwargs``).

    Raises:
        KeyError: no such grid, or no market for its symbol.
    """
    actor = StrategyActor(run, grid_name, resync_idle_s=resync_idle_s)
    # Everything so far (the modules a forkserver preloaded, the run) lives as long as the
    # process: freeze it out of the collector's sight, so that a collection never writes
    # to those pages and copies the parent's memory into this one (USS per grid).
    gc.freeze()
    return actor
