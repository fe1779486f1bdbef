"""A grid's commits: save the strategy's state and record its booked cycles; once every
reply is in, send the orders.

After every order event (and after a reconciliation) the strategy actor commits: the
state is saved and its Ack awaited before the orders the event produced go out, and
before the next event is handled (the actor stays busy meanwhile; events queue). Driven
by callbacks -- the store's replies and a retry timer -- with no task or ``wait_for``
between an event and its save. A refused save is tried again with the same version,
later; the next events wait for it.

Each saved state names, under :data:`UNSENT_KEY`, the client ids of the placements its
commit is about to send: a crash between the save and the send (the supervisor gone, the
actor stopping) leaves those tracked and unknown to the exchange, and the next start's
reconciliation re-sends them as the normal outcome they are, not as a mismatch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import KW_ONLY, dataclass, field
from functools import partial

import msgspec
import structlog

from gridsup.actors.grid.context import ActionKind, OrderAction
from gridsup.actors.grid.lifecycle import GridFenced
from gridsup.actors.grid.orders import OrderLink, retry_delay
from gridsup.actors.run_config import GridSpec
from gridsup.messages.common import OrderIntent
from gridsup.messages.store import Ack, RecordTrade, SaveState, StoreReply
from gridsup.runtime.requests import Requester
from gridsup.strategy.grid import CycleRecord, GridTradingStrategy

log = structlog.get_logger("gridsup.actors.strategy")

# The saved state's key (beside the strategy's own) for the placements not sent yet.
UNSENT_KEY = "unsent"


def split_unsent(state: dict[str, object]) -> frozenset[str]:
    """Take :data:`UNSENT_KEY` out of a decoded saved state; its ids (empty if absent)."""
    ids = state.pop(UNSENT_KEY, None)
    return frozenset(str(i) for i in ids) if isinstance(ids, list) else frozenset()


@dataclass(slots=True)
class _Commit:
    """A commit in flight: what goes out once the ``waiting`` replies are in."""

    actions: list[OrderAction]
    resend: Sequence[OrderIntent]
    then: Callable[[], None] | None  # None: go on with the queue
    state: bytes | None = None  # None: unchanged, no save
    unsent: frozenset[str] = frozenset()  # the placements this commit will send
    version: int = 0
    attempt: int = 0  # saves sent
    waiting: int = 0  # replies still to come (the save's Ack, one per trade record)
    done: set[int] = field(default_factory=set)  # the cycles whose record was answered


@dataclass(eq=False, slots=True)
class GridCommitter:
    """The commits of grid ``spec``'s ``strategy``: saves and trade records through
    ``store``, orders through ``orders`` (``exchange`` is the trades' exchange column).

    ``guarded`` runs every reply and timer callback (what it raises crashes the actor);
    ``stopping`` says the actor is stopping (nothing more goes out); ``done`` is called
    when a commit without its own ``then`` is through (the actor is not busy any more
    and takes the next event).
    """

    store: Requester[StoreReply]
    orders: OrderLink
    strategy: GridTradingStrategy
    spec: GridSpec
    exchange: str
    _: KW_ONLY
    guarded: Callable[..., None]
    stopping: Callable[[], bool]
    done: Callable[[], None]
    state_version: int = field(default=0, init=False)
    epoch: int = field(default=0, init=False)  # this incarnation's fencing token
    trades_recorded: int = field(default=0, init=False)
    trades_refused: int = field(default=0, init=False)
    # The placements the last durable state names as not sent yet (see UNSENT_KEY).
    unsent: frozenset[str] = field(default=frozenset(), init=False)
    # The state bytes of the last Ack (or the load).
    _saved: bytes | None = field(default=None, init=False)

    def loaded(
        self, version: int, state: bytes | None, unsent: frozenset[str], epoch: int = 0
    ) -> None:
        """The state the start loaded: its version, its bytes (None: no state yet), the
        placements it names as not sent yet, and this incarnation's fencing epoch."""
        self.state_version = version
        self.unsent = unsent
        self.epoch = epoch
        if state is not None:
            self._saved = state

    async def committed(self, actions: list[OrderAction], resend: Sequence[OrderIntent]) -> None:
        """:meth:`commit` for the reconcile path: return once its orders are sent."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def sent() -> None:
            if not done.done():
                done.set_result(None)

        self.commit(actions, resend, then=sent)
        await done

    def commit(
        self,
        actions: list[OrderAction],
        resend: Sequence[OrderIntent] = (),
        then: Callable[[], None] | None = None,
    ) -> None:
        """Save the state and record the cycles booked and not yet acked; once every
        reply is in, send ``actions`` (what the strategy asked for) and ``resend``, then
        call ``then`` -- without one, ``done``: go on with the queue. The actor is busy
        meanwhile.

        The cycles are recorded side by side with the save: the saved state still lists
        them, so a crash before their Acks loses none (the next start sends them again;
        the store keeps one of each). A cycle leaves the state only after its Ack, with
        the next save.
        """
        commit = _Commit(actions, resend, then)
        snapshot = self.strategy.get_state()
        commit.unsent = frozenset(
            [a.client_order_id for a in actions if a.kind is ActionKind.PLACE]
            + [i.client_order_id for i in resend]
        )
        if commit.unsent:
            snapshot[UNSENT_KEY] = sorted(commit.unsent)
        state = msgspec.json.encode(snapshot)
        cycles = self.strategy.pending_cycles()
        if state != self._saved:  # equal: nothing changed (a resync that found nothing)
            commit.state, commit.version = state, self.state_version + 1
        # Counted before anything is sent, so that no early reply can finish it.
        commit.waiting = (commit.state is not None) + len(cycles)
        if commit.waiting == 0:
            self._finish(commit)
            return
        if commit.state is not None:
            self._send_save(commit)
        for cycle in cycles:
            self.store.fire(
                self._trade(cycle), partial(self.guarded, self._on_trade_reply, commit, cycle)
            )

    def _send_save(self, commit: _Commit) -> None:
        assert commit.state is not None
        if self.stopping():
            return  # a retry due while stopping: the next start saves again
        commit.attempt += 1
        message = SaveState(
            request_id=self.store.next_id(),
            grid_id=self.spec.grid_id,
            version=commit.version,
            state=commit.state,
            epoch=self.epoch,
        )
        self.store.fire(message, partial(self.guarded, self._on_save_reply, commit))

    def _on_save_reply(self, commit: _Commit, reply: StoreReply) -> None:
        if isinstance(reply, Ack) and reply.ok:
            self.state_version, self._saved = commit.version, commit.state
            self.unsent = commit.unsent
            self._replied(commit)
            return
        error = reply.error if isinstance(reply, Ack) else type(reply).__name__
        log.error(
            "grid_state_save_failed", grid=self.spec.name, error=error, attempt=commit.attempt
        )
        if error is not None and error.startswith("fenced:"):
            # A newer incarnation owns the grid: retrying could never succeed, and no
            # order of ours may follow this save. Crash; the supervisor decides.
            raise GridFenced(f"grid {self.spec.name}: {error}")
        # The same version again, later; the next events wait for it.
        asyncio.get_running_loop().call_later(
            retry_delay(commit.attempt), self.guarded, self._send_save, commit
        )

    def _on_trade_reply(self, commit: _Commit, cycle: CycleRecord, reply: StoreReply) -> None:
        """A cycle acked (stored, or stored before: a duplicate) leaves the strategy's
        pending list when the commit is done. One the store refuses for its data is
        logged and dropped too: sending it again would not help."""
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
        commit.done.add(cycle.seq)
        self._replied(commit)

    def _replied(self, commit: _Commit) -> None:
        commit.waiting -= 1
        if commit.waiting == 0:
            self._finish(commit)

    def _finish(self, commit: _Commit) -> None:
        """Every reply is in: the orders go out, then the next event."""
        if commit.done:
            self.strategy.ack_cycles(commit.done)
        if self.stopping():
            return  # stopping: nothing more goes out (the next start reconciles)
        for action in commit.actions:
            self.orders.send(action)
        for intent in commit.resend:
            self.orders.send(OrderAction(ActionKind.PLACE, intent.client_order_id, intent))
        if commit.then is not None:
            commit.then()
        else:
            self.done()

    def _trade(self, cycle: CycleRecord) -> RecordTrade:
        return RecordTrade(
            request_id=self.store.next_id(),
            grid_id=self.spec.name,  # the strategy column, as the execution actor's fills
            exchange=self.exchange,
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

    def __repr__(self) -> str:
        return (
            f"<GridCommitter {self.spec.name} version={self.state_version} "
            f"recorded={self.trades_recorded} refused={self.trades_refused}>"
        )
