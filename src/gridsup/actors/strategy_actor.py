"""``StrategyActor``: one grid, one process, for the grid's whole life.

Start (``on_start``, before Ready): take the grid's lock (held elsewhere: log
``grid_locked`` and exit :data:`EXIT_LOCKED`), load the last state, ask the execution
actor for its open orders and the fate of every tracked one, reconcile, save, send what
reconciliation produced. Then trade: ticks and order updates drive the strategy; after
every order event the state is saved and its Ack awaited before the orders the event
produced go out, and before the next event is handled (events queue meanwhile).

Order updates are sequence-numbered per grid (Clone pattern): a gap or a new execution
epoch triggers a resync -- the same query and reconciliation as a start.

Ticks are listened to only while the strategy can use one: a running grid without
stop-loss/take-profit (``tick_band()`` is (-inf, +inf)) unsubscribes from its symbol on
the MARKET socket, so the publisher stops sending it ticks and an idle grid never wakes
for the market; it subscribes again as soon as the band is finite or None.

This process imports msgspec, pyzmq, structlog and ``gridsup.strategy`` -- never ccxt,
pandas or SQLAlchemy (the light grid lock speaks asyncpg directly).
"""

from __future__ import annotations

import asyncio
import enum
import gc
import time
from collections import deque
from collections.abc import Sequence
from typing import Any, assert_never

import msgspec
import structlog
import zmq.asyncio

from gridsup.actors.base import Actor, RuntimeInfo, StopReason
from gridsup.actors.endpoints import RunDir
from gridsup.actors.run_config import (
    MARKET,
    ORDER_UPDATES,
    ORDERS,
    STORE,
    MismatchPolicy,
    RunConfig,
    topic,
)
from gridsup.actors.sockets import SocketSpec, SocketType
from gridsup.actors.strategy_context import Action, ActionKind, OutboxContext
from gridsup.actors.strategy_orders import OrderLink, apply_update, retry_delay
from gridsup.actors.strategy_requests import Requester
from gridsup.messages.common import OrderIntent
from gridsup.messages.control import StatusValue
from gridsup.messages.market import MARKET_CODEC, Tick
from gridsup.messages.orders import (
    ORDER_FEED_CODEC,
    ORDER_REPLY_CODEC,
    ORDER_REQUEST_CODEC,
    OrderRejected,
    OrderUpdate,
)
from gridsup.messages.store import (
    STORE_REPLY_CODEC,
    STORE_REQUEST_CODEC,
    Ack,
    LoadState,
    RecordTrade,
    SaveState,
    StateLoaded,
    StoreReply,
)
from gridsup.store.grid_lock_light import AsyncpgAdvisoryLock, LightGridLock, light_grid_lock
from gridsup.strategy.grid import CycleRecord, GridTradingStrategy
from gridsup.strategy.grid_config import GridConfig
from gridsup.strategy.reconcile import (
    CancelPolicy,
    ReconciliationResult,
    Verdict,
    apply_reconciliation,
    plan_reconciliation,
    verdict,
)

log = structlog.get_logger("gridsup.actors.strategy")

EXIT_LOCKED = 75  # EX_TEMPFAIL: another process holds this grid's lock
_MAX_QUEUED = 10_000  # queued order events; beyond this, drop them and resync instead
_LOCK_CHECK_S = 5.0
_RESYNC_IDLE_S = 30.0  # no event for this long: compare with a snapshot anyway
_EVERY_PRICE = (float("-inf"), float("inf"))  # a tick_band() no tick can leave


class GridActorState(enum.Enum):
    STARTING = "starting"
    LOCKED = "locked"  # refused: the grid runs elsewhere
    RECONCILING = "reconciling"
    TRADING = "trading"
    ABORTED = "aborted"  # reconciliation found too much disagreement (policy abort)


class StateLoadError(RuntimeError):
    """The store could not give us the grid's state (the actor crashes and is restarted)."""


class GridLockLost(RuntimeError):
    """The lock's session died: another copy may start, so this one must not trade on."""


class StrategyActor(Actor):
    """The actor of grid ``grid_name`` of ``run``."""

    def __init__(
        self,
        run: RunConfig,
        grid_name: str,
        *,
        strategy: GridTradingStrategy | None = None,
        lock: LightGridLock | None = None,
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
        self.state_version = 0
        self.resyncs = 0
        self.events_handled = 0
        self.trades_recorded = 0
        self.trades_refused = 0
        self._exchange = "paper" if run.dry_run else run.exchange_id  # as execution records
        self._seq = 0
        self._epoch: int | None = None
        self._events: deque[OrderUpdate | OrderRejected] = deque()
        self._tick: Tick | None = None
        self._last_tick_at: float | None = None
        self._ticks_on = True  # sockets() subscribes to the symbol's ticks
        self._resync = False
        self._wake = asyncio.Event()
        self._saved: bytes | None = None  # the state bytes of the last Ack (or the load)
        self._store: Requester[StoreReply] | None = None
        self._orders: OrderLink | None = None

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
                recv=MARKET_CODEC,
                subscribe=(topic(self.spec.symbol),),
            ),
            SocketSpec(
                ORDER_UPDATES,
                SocketType.SUB,
                base.endpoint(ORDER_UPDATES),
                recv=ORDER_FEED_CODEC,
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
            self.lock = light_grid_lock(self.run_config.db_url, self.spec.grid_id)
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
            wanted=lambda cid: (
                self.grid_state is GridActorState.TRADING and self.strategy.tracks(cid)
            ),
        )
        for requester in (self._store, orders):
            self.spawn(requester.run())
            self.spawn(requester.resend_loop())
        if isinstance(self.lock, AsyncpgAdvisoryLock):
            self.spawn(self._watch_lock())
        await self._load_state()
        self.strategy.initialize(self.outbox)
        await self._reconcile()
        self._follow_band()  # a restored running grid stops listening before its first tick
        self.spawn(self._drive())

    async def _load_state(self) -> None:
        assert self._store is not None
        reply = await self._store.request(
            LoadState(request_id=self._store.next_id(), grid_id=self.spec.grid_id)
        )
        match reply:
            case StateLoaded(version=version, state=state):
                self.state_version = version
                if state is not None:
                    self.strategy.from_state(msgspec.json.decode(state))
                    self._saved = state
                log.info("grid_state_loaded", grid=self.spec.name, version=version)
            case Ack(error=error):
                log.error("grid_state_load_failed", grid=self.spec.name, error=error)
                raise StateLoadError(f"grid {self.spec.name}: state load failed: {error}")
            case _ as unreachable:
                assert_never(unreachable)

    async def _reconcile(self) -> None:
        """Query, compare, apply; a start and every resync go through here."""
        self.grid_state = GridActorState.RECONCILING
        assert self._orders is not None
        snapshot = await self._orders.query(tuple(self.strategy.tracked_orders()))
        self._seq, self._epoch = snapshot.seq, snapshot.epoch
        plan = plan_reconciliation(
            self.spec.grid_id, self.strategy.tracked_orders(), snapshot.orders
        )
        run = self.run_config
        judged = verdict(
            plan.mismatches, run.mismatch_threshold, run.mismatch_policy is MismatchPolicy.ABORT
        )
        if judged is not Verdict.PROCEED:
            log.error(
                "reconciliation_mismatch",
                grid=self.spec.name,
                mismatches=plan.mismatches,
                threshold=run.mismatch_threshold,
                policy=run.mismatch_policy.value,
                orphans=len(plan.orphans),
                phantoms=len(plan.phantoms),
                missing=len(plan.missing),
            )
        if judged is Verdict.ABORT:
            # Nothing applied, nothing saved: a later start sees the same evidence.
            self._set_reconciliation(
                ReconciliationResult(foreign=plan.foreign, mismatches=plan.mismatches, aborted=True)
            )
            self.grid_state = GridActorState.ABORTED
            log.error("grid_aborted", grid=self.spec.name, reason="reconciliation_mismatch")
            return
        result = apply_reconciliation(self.strategy, plan, CancelPolicy(run.cancel_policy.value))
        # The status keeps the start's result, and a later resync's only if it did something.
        if self.reconciliation is None or result.changed:
            self._set_reconciliation(result)
            log.info(
                "grid_reconciled",
                grid=self.spec.name,
                **{k: v for k, v in result.status().items() if not k.endswith("_ids")},
            )
        await self._commit(result.resent)
        self.grid_state = GridActorState.TRADING

    # ------------------------------------------------------------------------ trading

    def on_message(self, socket: str, message: Any, envelope: list[bytes]) -> None:
        if self.grid_state is GridActorState.ABORTED:
            return
        if socket == MARKET:
            self._last_tick_at = time.monotonic()
            band = self.strategy.tick_band()
            # Inside the band the strategy would do nothing: skip the wake-up.
            if band is not None and band[0] <= float(message.last) <= band[1]:
                return
            self._tick = message
        elif len(self._events) >= _MAX_QUEUED:
            log.warning("order_events_overflowed", grid=self.spec.name, queued=_MAX_QUEUED)
            self._events.clear()
            self._resync = True
        else:
            self._events.append(message)
        self._wake.set()

    async def _drive(self) -> None:
        """The one consumer of events: each is applied, saved and answered in turn."""
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), _RESYNC_IDLE_S)
            except TimeoutError:
                # Quiet for a while: check the sequence with a snapshot, in case the one
                # update that would have shown a gap was lost (a slow-joining SUB).
                if self.grid_state is GridActorState.TRADING and self.strategy.tracked_orders():
                    self._resync = True
                else:
                    continue
            self._wake.clear()
            while self.grid_state is not GridActorState.ABORTED:
                if self._resync:
                    self._resync = False
                    self.resyncs += 1
                    await self._reconcile()
                elif self._events:
                    await self._handle(self._events.popleft())
                elif self._tick is not None:
                    tick, self._tick = self._tick, None
                    self.strategy.on_tick(tick)
                    if self.outbox.has_actions:
                        await self._commit()
                else:
                    break
            self._follow_band()

    def _follow_band(self) -> None:
        """Subscribe to the symbol's ticks only while the strategy can use one.

        Only ticks can leave a finite band (a stop) or start a grid waiting for its first
        price (band None); a running grid without stops gets its fills from the execution
        actor, and each tick would cost its process a wake-up for nothing -- a hundred of
        them at once on a price move, just when the execution actor needs the CPU. Called
        after the start and after every batch of events (where the strategy's phase
        changes), it touches the socket only when the wanted subscription changes (ZeroMQ counts
        subscriptions: two SUBSCRIBEs would need two UNSUBSCRIBEs).
        """
        wanted = (
            self.grid_state is not GridActorState.ABORTED
            and self.strategy.tick_band() != _EVERY_PRICE
        )
        if wanted is self._ticks_on:
            return
        self._ticks_on = wanted
        self.subscribe(MARKET, topic(self.spec.symbol), on=wanted)
        log.info("grid_ticks", grid=self.spec.name, ticks="on" if wanted else "off")

    async def _handle(self, event: OrderUpdate | OrderRejected) -> None:
        match event:
            case OrderUpdate():
                if event.epoch != self._epoch or event.seq > self._seq + 1:
                    log.info(
                        "order_updates_resynced",
                        grid=self.spec.name,
                        seq=event.seq,
                        expected=self._seq + 1,
                        epoch=event.epoch,
                    )
                    self._events.clear()  # the snapshot will cover them
                    self._resync = True
                    return
                if event.seq <= self._seq:
                    return  # already in the snapshot
                self._seq = event.seq
                changed = apply_update(self.strategy, event)
            case OrderRejected(client_order_id=cid, reason=reason):
                changed = self.strategy.tracks(cid)
                if changed:
                    self.strategy.on_order_rejected(cid, reason)
            case _ as unreachable:
                assert_never(unreachable)
        self.events_handled += 1
        if changed or self.outbox.has_actions:
            await self._commit()

    def _set_reconciliation(self, result: ReconciliationResult) -> None:
        self.reconciliation = result
        self._recon_status = result.status()  # immutable: flattened once, not per heartbeat

    async def _commit(self, resend: Sequence[OrderIntent] = ()) -> None:
        """Save the state, wait for its Ack, then send what the strategy asked for."""
        actions = self.outbox.take()
        await self._save_state()
        assert self._orders is not None
        for action in actions:
            self._orders.send(action)
        for intent in resend:
            self._orders.send(Action(ActionKind.PLACE, intent.client_order_id, intent))

    async def _save_state(self) -> None:
        """Save the state (if it changed) and record the cycles booked and not yet acked,
        side by side: the saved state still lists those cycles, so a crash before their
        Acks loses none (the next start sends them again; the store keeps one of each).
        A cycle leaves the state only after its Ack, with the next save."""
        assert self._store is not None
        cycles = self.strategy.pending_cycles()
        if cycles:
            await asyncio.gather(self._save(), self._record_trades(cycles))
        else:
            await self._save()

    async def _save(self) -> None:
        assert self._store is not None
        state = msgspec.json.encode(self.strategy.get_state())
        if state == self._saved:
            return  # nothing changed (a resync that found nothing): no new version
        version = self.state_version + 1
        attempt = 0
        while True:
            attempt += 1
            reply = await self._store.request(
                SaveState(
                    request_id=self._store.next_id(),
                    grid_id=self.spec.grid_id,
                    version=version,
                    state=state,
                )
            )
            if isinstance(reply, Ack) and reply.ok:
                self.state_version, self._saved = version, state
                return
            error = reply.error if isinstance(reply, Ack) else type(reply).__name__
            log.error("grid_state_save_failed", grid=self.spec.name, error=error, attempt=attempt)
            await asyncio.sleep(retry_delay(attempt))

    async def _record_trades(self, cycles: Sequence[CycleRecord]) -> None:
        """One RecordTrade per cycle, all in flight at once; the acked ones (stored, or
        stored before: a duplicate) leave the strategy's pending list. A cycle the store
        refuses for its data is logged and dropped: sending it again would not help."""
        assert self._store is not None
        replies = await asyncio.gather(*(self._store.request(self._trade(c)) for c in cycles))
        done: set[int] = set()
        for cycle, reply in zip(cycles, replies, strict=True):
            if isinstance(reply, Ack) and reply.ok:
                self.trades_recorded += not reply.duplicate
            else:
                error = reply.error if isinstance(reply, Ack) else type(reply).__name__
                log.error(
                    "grid_trade_refused",
                    grid=self.spec.name,
                    close_order_id=cycle.close_order_id,
                    error=error,
                )
                self.trades_refused += 1
            done.add(cycle.seq)
        self.strategy.ack_cycles(done)

    def _trade(self, cycle: CycleRecord) -> RecordTrade:
        assert self._store is not None
        return RecordTrade(
            request_id=self._store.next_id(),
            grid_id=self.spec.name,  # the strategy column, as the execution actor's fills
            exchange=self._exchange,
            symbol=self.spec.symbol,
            amount=cycle.amount,
            open_price=cycle.open_price,
            open_order_id=cycle.open_order_id,
            opened_at=cycle.opened_at,
            close_price=cycle.close_price,
            close_order_id=cycle.close_order_id,
            closed_at=cycle.closed_at,
            fee=cycle.fee,
            profit=cycle.profit,
        )

    def _refused(self, rejection: OrderRejected) -> None:
        """A placement refused for good: an event for the strategy, in turn."""
        self._events.append(rejection)
        self._wake.set()

    async def _watch_lock(self) -> None:
        assert self.lock is not None
        while True:
            await asyncio.sleep(_LOCK_CHECK_S)
            if not await self.lock.check():
                raise GridLockLost(f"grid {self.spec.name}: lock session lost")

    # --------------------------------------------------------------------------- stop

    async def on_stop(self, reason: StopReason) -> None:
        if (
            self.cancel_orders
            and self._orders is not None
            and self.grid_state
            in (
                GridActorState.TRADING,
                GridActorState.RECONCILING,
            )
        ):
            # The next start reconciles what the answers said.
            timeout = (self.info.stop_timeout if self.info else 5.0) / 2
            await self._orders.cancel_all(self.strategy.tracked_orders(), timeout)
        self.strategy.shutdown()
        if self.lock is not None:
            await self.lock.release()

    # ------------------------------------------------------------------------- status

    def status(self) -> dict[str, StatusValue]:
        strategy = self.strategy
        # Unsubscribed, the grid has no tick age of its own: `gridsup status` shows the
        # market-data actor's age of the symbol instead.
        age = (
            None
            if self._last_tick_at is None or not self._ticks_on
            else time.monotonic() - self._last_tick_at
        )
        out: dict[str, StatusValue] = {
            "grid": self.spec.name,
            "symbol": self.spec.symbol,
            "mode": "dry_run" if self.run_config.dry_run else "live",
            "state": self.grid_state.value,
            "phase": strategy.phase.value,
            "stopped": strategy.stopped or self.grid_state is GridActorState.ABORTED,
            "open_orders": len(strategy.open_orders()),
            "completed_cycles": strategy.completed_cycles,
            "realized_profit": str(strategy.realized_profit),
            "ticks": "on" if self._ticks_on else "off",
            "last_tick_age_s": None if age is None else round(age, 3),
            "state_version": self.state_version,
            "events_queued": len(self._events),
            "events_handled": self.events_handled,
            "resyncs": self.resyncs,
            "order_seq": self._seq,
            "trades_recorded": self.trades_recorded,
            "trades_pending": len(strategy.pending_cycles()),
        }
        if self._orders is not None and self._store is not None:
            orders = self._orders.requester
            out["requests_pending"] = orders.pending + self._store.pending
            out["requests_resent"] = orders.resends + self._store.resends
            out["orders_retried"] = self._orders.retried
        out.update(self._recon_status)
        return out


def build(run: RunConfig, grid_name: str, **_: Any) -> StrategyActor:
    """ChildSpec target ``gridsup.actors.strategy_actor:build``.

    Raises:
        KeyError: no such grid, or no market for its symbol.
    """
    actor = StrategyActor(run, grid_name)
    # Everything so far (the modules a forkserver preloaded, the run) lives as long as the
    # process: freeze it out of the collector's sight, so that a collection never writes
    # to those pages and copies the parent's memory into this one (USS per grid).
    gc.freeze()
    return actor
