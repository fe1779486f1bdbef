"""The execution actor: the one process that holds the account (API keys, or the paper
account in dry-run) and places, cancels and watches every grid's orders.

Sockets: ROUTER bind ORDERS (PlaceOrder/CancelOrder/QueryOrders in, replies out), PUB
bind ORDER_UPDATES (OrderUpdate, topic = grid name), DEALER connect STORE; in dry-run a
SUB connect MARKET feeds the :class:`PaperExchange` that lives here.

The rules it keeps (docs/actors.md has the whole story):

* idempotent by client order id: a PlaceOrder for an id it tracks, or that the exchange
  knows (looked up first), is answered with that order — never placed twice;
* per-grid budgets and one account-wide rate limit (invariant 7);
* durable first: an order's Ack and a fill's OrderUpdate leave only after the persistence
  actor acknowledged the order event, the fill and (dry-run) the paper account snapshot
  (:mod:`~gridsup.actors.execution.commits`);
* OrderUpdate ``seq`` runs 1, 2, 3 ... per grid within an ``epoch`` (this process's start
  time in ms); a snapshot (reply to QueryOrders) carries the seq it is current at.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import partial
from typing import Any, assert_never

import structlog

from gridsup.actors.execution.budget import Budgets
from gridsup.actors.execution.catchup import GapFiller
from gridsup.actors.execution.commits import ExecutionCommitter
from gridsup.actors.execution.desk import Desk, Outcome
from gridsup.actors.execution.outbox import OutboxEntry
from gridsup.actors.execution.polling import AccountPoller
from gridsup.actors.execution.ratelimit import TokenBucket
from gridsup.actors.execution.state import (
    load_ledger,
    load_paper,
    open_live_venue,
    open_user_stream,
    retired_in_store,
)
from gridsup.actors.execution.stopping import settle_on_stop
from gridsup.actors.execution.stream import StreamFollower
from gridsup.actors.execution.tracked_orders import TrackedOrders
from gridsup.actors.execution.venue import PaperVenue, Venue
from gridsup.actors.request_budget import PollPlan, run_budget
from gridsup.actors.run_config import MARKET, ORDER_UPDATES, ORDERS, STORE, RunConfig, topic
from gridsup.exchange.errors import BadSymbol
from gridsup.exchange.types import Candle
from gridsup.messages import telemetry
from gridsup.messages.control import StatusValue
from gridsup.messages.market import MARKET_CODEC, MarketMessage, Tick
from gridsup.messages.orders import (
    ORDER_FEED_CODEC,
    ORDER_REPLY_CODEC,
    ORDER_REQUEST_CODEC,
    CancelOrder,
    OrderRequest,
    PlaceOrder,
    QueryOrders,
)
from gridsup.messages.store import (
    STORE_REPLY_CODEC,
    STORE_REQUEST_CODEC,
    Ack,
    RetiredIdsFound,
    StateLoaded,
    StoreMessage,
    StoreReply,
)
from gridsup.runtime.actor import Actor, StopReason
from gridsup.runtime.sockets import Receiver, SocketSpec, SocketType

STREAM_VENUES = frozenset({"binance"})

log = structlog.get_logger("gridsup.actors.execution")

# How long a clean stop waits for outstanding store Acks before it gives up (s).
STOP_DRAIN_S = 3.0


class ExecutionActor(Actor):
    """See the module docstring."""

    def __init__(self, run: RunConfig) -> None:
        super().__init__()
        self.config = run
        self.epoch = 0
        self.book = TrackedOrders()
        self.budgets = Budgets({g.name: g.budget_quote for g in run.grids})
        self.limiter = TokenBucket(run.rate_limit_per_s)
        self.commits = ExecutionCommitter(
            self.budgets,
            dry_run=run.dry_run,
            timeout=run.state_timeout_s,
            send_store=self._send_store,
            emit=self._emit,
        )
        self.venue: Venue | None = None
        self.desk: Desk | None = None
        self.ticks = 0
        self.gaps: GapFiller | None = None  # dry-run: the market missed while down
        self._grids = {g.name: g for g in run.grids}
        self.poll_plan = PollPlan(run)  # live: which open orders to poll, how often
        self.poller: AccountPoller | None = None  # live: polls (the stream's fallback)
        self.follower: StreamFollower | None = None  # live: fills by the user-data stream

    # -- sockets and lifecycle ------------------------------------------------------------

    def sockets(self) -> Sequence[SocketSpec]:
        assert self.run_dir is not None
        ep = self.run_dir.endpoint
        specs = [
            SocketSpec(
                ORDERS,
                SocketType.ROUTER,
                ep(ORDERS),
                bind=True,
                recv=Receiver(ORDER_REQUEST_CODEC, self.on_order_request),
                send=ORDER_REPLY_CODEC,
                sndhwm=100_000,
            ),
            SocketSpec(
                ORDER_UPDATES,
                SocketType.PUB,
                ep(ORDER_UPDATES),
                bind=True,
                send=ORDER_FEED_CODEC,
                sndhwm=100_000,
            ),
            SocketSpec(
                STORE,
                SocketType.DEALER,
                ep(STORE),
                recv=Receiver(STORE_REPLY_CODEC, self.on_store_reply),
                send=STORE_REQUEST_CODEC,
                sndhwm=100_000,
            ),
        ]
        if self.config.dry_run:
            specs.append(
                SocketSpec(
                    MARKET,
                    SocketType.SUB,
                    ep(MARKET),
                    recv=Receiver(MARKET_CODEC, self.on_market),
                    subscribe=tuple(topic(s) for s in sorted(self.config.markets)),
                )
            )
        return specs

    async def on_start(self) -> None:
        self.epoch = self.commits.epoch = int(time.time() * 1000)
        link = self.commits.link
        # The runtime's dispatch starts after Ready: read Acks ourselves until then.
        self._read_store_replies()
        try:
            self.commits.ledger_version = await load_ledger(link, self.budgets)
            if self.config.dry_run:
                paper, self.commits.paper_version = await load_paper(link, self.config)
                # The run's request budget, if its market data polls an exchange: read
                # for status only (live, the ccxt client holds it).
                self.venue = PaperVenue(
                    paper,
                    self.limiter,
                    run_budget(self.config),
                    retired_lookup=partial(retired_in_store, link),
                )
                self.commits.paper = self.venue
                last_ts = paper.last_timestamp() if self.commits.paper_version else 0
                self.gaps = GapFiller(self.config, last_ts, self._replay, self._feed, self.spawn)
            else:
                self.venue = await open_live_venue(self.config, self.limiter)
            self.desk = Desk(self.config, self.book, self.budgets, self.venue, self.epoch)
            self.commits.booking = self.desk.booking
            requests, actions = await self.desk.adopt_open_orders()
            self.commits.commit(self.desk.rerecord_paper_trades() + requests, actions)
            # What adoption recorded must be durable before anyone can ask about it.
            await self.commits.drained()
        finally:
            self.read_with(STORE, None)
        self.spawn(self.commits.resend_loop(self.config.state_timeout_s))
        # Streams are verified for Binance only (its loopback serves them); the other
        # venues' dialects poll until theirs are (docs/exchange.md, "Venue dialects").
        if not self.config.dry_run:
            self._follow_fills(self.desk, self.venue)
        log.info(
            "execution_started",
            mode="DRY-RUN" if self.config.dry_run else "LIVE",
            exchange=self.config.exchange_id,
            epoch=self.epoch,
            open_orders=len(self.book),
        )

    def _follow_fills(self, desk: Desk, venue: Venue) -> None:
        """Live: follow fills by the user-data stream, or poll (execution/stream.py,
        execution/polling.py); both poll through one poller, paced by the plan."""
        run = self.config
        self.poller = AccountPoller(
            venue,
            self.book,
            desk,
            self.poll_plan,
            self.commits.commit_records,
            probe_s=run.account_probe_s,
        )
        if not (run.user_stream and run.exchange_id in STREAM_VENUES):
            self.spawn(self.poller.run())
            return
        self.follower = StreamFollower(
            open_user_stream(run),
            desk,
            self.book,
            self.commits.commit_records,
            self.poller,
            keepalive_ms=run.stream_keepalive_ms,
            stale_ms=run.stream_stale_ms,
            fallback_after=run.stream_fallback_after,
            retry_s=run.stream_retry_s,
            audit_s=run.stream_audit_s,
        )
        self.spawn(self.follower.run())

    def _read_store_replies(self) -> None:
        """Read the store's replies ourselves, until ``read_with(STORE, None)``: before
        Ready and during on_stop the runtime does not dispatch this socket."""
        self.read_with(STORE, self.commits.reader(self.socket(STORE)))

    async def on_stop(self, reason: StopReason) -> None:
        self._read_store_replies()
        try:
            if self.desk is not None:
                # What the cancelled tasks left unsettled (stopping.py), then the cancels;
                # the rest of the stop timeout is for the records to become durable.
                budget = (self.info.stop_timeout if self.info else 5.0) - STOP_DRAIN_S - 0.5
                await settle_on_stop(
                    self.desk,
                    partial(self.commits.commit_records, flush=True),
                    cancel_orders=self.cancel_orders,
                    budget_s=max(budget, 0.5),
                )
            await self.commits.drained(STOP_DRAIN_S, poll=0.02)
        finally:
            self.read_with(STORE, None)
        if pending := self.commits.link.pending:
            log.warning("stopped_with_unacked_records", pending=len(pending))
        if self.venue is not None:
            await self.venue.close()
        if self.gaps is not None:
            await self.gaps.close()

    def status(self) -> dict[str, StatusValue]:
        desk = self.desk
        return {
            "mode": "dry_run" if self.config.dry_run else "live",
            "epoch": self.epoch,
            "orders_open": len(self.book),
            "fills": desk.fills if desk else 0,
            "placed": desk.placed if desk else 0,
            "rejected": desk.rejected if desk else 0,
            "refused_waiting": desk.waiting if desk else 0,
            "account_paused": desk.paused if desk else None,
            telemetry.AUTH_REFUSED: bool(desk and desk.paused is not None),
            "budget_refusals": self.budgets.refused,
            "foreign_orders": desk.foreign if desk else 0,
            "pending_store_acks": len(self.commits.link.pending),
            "outbox": len(self.commits.outbox),
            "store_resent": self.commits.link.resent,
            "rate_limit_waits": self.limiter.waits,
            "rate_limit_waited_s": round(self.limiter.waited_s, 3),
            "poll_round_s": round(self.poll_plan.round_s, 3),
            "ticks": self.ticks,
            "market_gaps_pending": len(self.gaps.pending) if self.gaps else 0,
            **self._feed_status(),
            # The account's requests (weight, 429/418, latency, reachable: metrics).
            telemetry.ACCOUNT: "paper" if self.config.dry_run else self.config.api_key_env,
            **(self.venue.request_status() if self.venue is not None else {}),
            **self._retired_status(),
        }

    def _retired_status(self) -> dict[str, StatusValue]:
        """Dry-run: retired client ids held in memory, and store look-ups made for them."""
        if not isinstance(self.venue, PaperVenue):
            return {}
        retired = self.venue.paper.retired
        return {"retired_in_memory": len(retired), "retired_lookups": self.venue.retired_lookups}

    def _feed_status(self) -> dict[str, StatusValue]:
        """Where fills come from: the paper account, the stream, or polling (and since)."""
        if self.follower is not None:
            return dict(self.follower.status())
        feed = "paper" if self.config.dry_run else "polling"
        return {"order_feed": feed, "order_feed_since": self.epoch}

    # -- messages -------------------------------------------------------------------------

    def on_order_request(self, message: OrderRequest, envelope: list[bytes]) -> None:
        """ORDERS' handler: each request served as a task, answered to ``envelope`` (the
        grid's ROUTER identity)."""
        match message:
            case PlaceOrder():
                work = self._after_gap(message.strategy, self._desk().place, message)
                self.spawn(self._serve(work, envelope))
            case CancelOrder():
                work = self._after_gap(message.strategy, self._desk().cancel, message)
                self.spawn(self._serve(work, envelope))
            case QueryOrders():
                self.spawn(self._serve(self._desk().query(message), envelope))
            case _:
                assert_never(message)

    def _desk(self) -> Desk:
        assert self.desk is not None, "messages arrive only after on_start"
        return self.desk

    async def _serve(self, work: Any, envelope: list[bytes]) -> None:
        outcome = await work
        actions: list[OutboxEntry] = [*outcome.actions, ("reply", envelope, outcome.reply)]
        if outcome.durable:
            self.commits.commit(outcome.requests, actions, flush=outcome.paper_changed)
        else:  # a refusal that changed nothing: answer at once
            self._emit(actions)

    def on_market(self, message: MarketMessage, envelope: list[bytes]) -> None:
        """MARKET's handler (dry-run): ticks move the paper account."""
        match message:
            case Tick():
                self.ticks += 1
                if self.gaps is not None:
                    self.gaps.on_tick(message)  # after the candles of a restart's gap
                else:
                    self._feed(message)
            case _:
                assert_never(message)

    def _feed(self, tick: Tick) -> None:
        requests, actions = self._desk().on_tick(tick)
        if requests or actions:
            self.commits.commit(requests, actions, flush=True)

    def _replay(self, symbol: str, candles: list[Candle]) -> int:
        """Dry-run catch-up: the candles of a gap through the paper account, fills
        booked like a tick's; their count."""
        try:
            (requests, actions), fills = self._desk().replay_candles(symbol, candles)
        except BadSymbol:
            log.warning("tick_for_unknown_market", symbol=symbol)
            return 0
        if requests or actions:
            self.commits.commit(requests, actions, flush=True)
        return fills

    async def _after_gap(
        self, grid: str, work: Callable[[Any], Awaitable[Outcome]], message: Any
    ) -> Outcome:
        """``work(message)`` once the gap of ``grid``'s symbol is filled."""
        if self.gaps is not None and (spec := self._grids.get(grid)) is not None:
            await self.gaps.wait(spec.symbol)
        return await work(message)

    def on_store_reply(self, message: StoreReply, envelope: list[bytes]) -> None:
        """STORE's handler: a reply releases what waited for it (durable first)."""
        match message:
            case Ack() | StateLoaded() | RetiredIdsFound():
                self.commits.on_reply(message)
            case _:
                assert_never(message)

    # -- sending ------------------------------------------------------------------------

    def _emit(self, actions: Iterable[OutboxEntry]) -> None:
        """Send what the commits released: order updates and replies."""
        for kind, target, message in actions:
            if kind == "publish":
                self.send(ORDER_UPDATES, message, topic=target)
            else:
                self.send(ORDERS, message, envelope=target)

    def _send_store(self, message: StoreMessage) -> None:
        self.send(STORE, message)


def build(run: RunConfig) -> ExecutionActor:
    """The execution actor of ``run``
    (ChildSpec target ``gridsup.actors.execution.actor:build``)."""
    return ExecutionActor(run)
