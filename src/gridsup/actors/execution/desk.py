"""The execution actor's order logic, free of sockets: PlaceOrder, CancelOrder,
QueryOrders, ticks (dry-run) and polls (live) in; store requests, replies and
sequence-numbered updates out.

Every method returns what must be stored and what may be sent once it is (an
:class:`Outcome`, or a pair of lists); the actor does the sending. Sequence numbers are
taken when an update is produced and the actor commits it in the same step (no ``await``
between :meth:`Booking.absorb` and the return of the method that called it), so updates
leave in sequence order.

The :class:`Desk` is the face of its parts, which share one :class:`Workbench` (the
orders tracked, the venue, the :class:`Booking`, the :class:`Admission` of requests and
what is :class:`InFlight`): ``placing``, ``cancelling``, ``queries``, ``adoption``
(live polls, orphans, foreign orders) and ``paper_fills`` (dry-run ticks and
catch-up).
"""

from __future__ import annotations

from collections.abc import Iterable

from gridsup.actors.execution.admission import Admission
from gridsup.actors.execution.adoption import Adoption
from gridsup.actors.execution.booking import Booking, Records
from gridsup.actors.execution.budget import Budgets
from gridsup.actors.execution.cancelling import Cancelling
from gridsup.actors.execution.inflight import InFlight
from gridsup.actors.execution.paper_fills import PaperFills
from gridsup.actors.execution.placing import Placing
from gridsup.actors.execution.poller import PollResult
from gridsup.actors.execution.queries import Queries
from gridsup.actors.execution.replies import Outcome
from gridsup.actors.execution.tracked_orders import TrackedOrder, TrackedOrders
from gridsup.actors.execution.venue import PaperVenue, Venue
from gridsup.actors.execution.workbench import Workbench
from gridsup.actors.run_config import GridSpec, RunConfig
from gridsup.exchange.types import Candle, Trade
from gridsup.messages.market import Tick
from gridsup.messages.orders import CancelOrder, PlaceOrder, QueryOrders
from gridsup.messages.store import StoreRequest

__all__ = ["Desk", "Outcome"]


class Desk:
    """See the module docstring."""

    def __init__(
        self, run: RunConfig, book: TrackedOrders, budgets: Budgets, venue: Venue, epoch: int
    ) -> None:
        self.run = run
        self.book = book
        self.budgets = budgets
        self.venue = venue
        self.epoch = epoch
        self.booking = Booking(
            run, book, budgets, "paper" if venue.dry_run else run.exchange_id, epoch
        )
        self.admission = Admission(run, self.booking.grid_of)
        self.inflight = InFlight()
        self.bench = Workbench(book, venue, self.booking, self.admission, self.inflight)
        self.placing = Placing(self.bench, budgets)
        self.cancelling = Cancelling(self.bench)
        self.queries = Queries(self.bench, epoch)
        self.adoption = Adoption(self.bench)
        paper = venue.paper if isinstance(venue, PaperVenue) else None
        self.paper_fills = PaperFills(self.bench, paper)

    # -- what the parts hold (status, the stop, the followers) -----------------------------

    @property
    def grids(self) -> dict[str, GridSpec]:
        return self.admission.grids

    @property
    def cluster(self) -> bool:
        return self.admission.cluster

    @property
    def served(self) -> set[str]:
        return self.admission.served

    @property
    def paused(self) -> str | None:
        """Why the account is paused (keys refused); None while it trades."""
        return self.admission.paused

    @property
    def placed(self) -> int:
        return self.placing.placed

    @property
    def rejected(self) -> int:
        return self.placing.rejected

    @property
    def waiting(self) -> int:
        """Placements refused for a passing reason (retried by the grid)."""
        return self.placing.waiting

    @property
    def doubtful(self) -> dict[str, TrackedOrder]:
        """Placements answered ambiguously (the create may have landed), by client id."""
        return self.placing.doubtful

    @property
    def foreign(self) -> int:
        return self.adoption.foreign

    @property
    def fills(self) -> int:
        return self.booking.fills

    # -- account pause and identities ------------------------------------------------------

    def pause(self, reason: str) -> None:
        """See :meth:`Admission.pause`."""
        self.admission.pause(reason)

    def resume(self) -> None:
        self.admission.resume()

    def grid_of(self, cid: str | None) -> str | None:
        """See :meth:`Admission.grid_of`."""
        return self.admission.grid_of(cid)

    def in_flight(self, cid: str) -> bool:
        """A placement or cancel of ``cid`` is under way (it books its own outcome)."""
        return cid in self.inflight

    async def settled(self, cid: str) -> None:
        """Wait until no placement or cancel of ``cid`` is in flight."""
        await self.inflight.settled(cid)

    # -- requests ---------------------------------------------------------------------------

    async def place(self, msg: PlaceOrder) -> Outcome:
        return await self.placing.place(msg)

    async def cancel(self, msg: CancelOrder) -> Outcome:
        return await self.cancelling.cancel(msg)

    async def cancel_tracked(self, tracked: TrackedOrder) -> Records:
        """See :meth:`Cancelling.cancel_tracked`."""
        return await self.cancelling.cancel_tracked(tracked)

    async def query(self, msg: QueryOrders) -> Outcome:
        return await self.queries.query(msg)

    # -- market and polls -------------------------------------------------------------------

    def rerecord_paper_trades(self) -> list[StoreRequest]:
        """Dry-run start: see :meth:`Booking.rerecord_trades`."""
        return self.paper_fills.rerecord_trades()

    def on_tick(self, tick: Tick) -> Records:
        """Dry-run: see :meth:`PaperFills.on_tick`."""
        return self.paper_fills.on_tick(tick)

    def replay_candles(self, symbol: str, candles: list[Candle]) -> tuple[Records, int]:
        """Dry-run catch-up: see :meth:`PaperFills.replay_candles`."""
        return self.paper_fills.replay_candles(symbol, candles)

    async def on_poll(self, result: PollResult) -> Records:
        """Live: see :meth:`Adoption.on_poll`."""
        return await self.adoption.on_poll(result)

    async def adopt_open_orders(self) -> Records:
        """At start: see :meth:`Adoption.adopt_open_orders`."""
        return await self.adoption.adopt_open_orders()

    async def price_fees(self, trades: Iterable[Trade]) -> None:
        """Fresh prices for the third-asset fees of ``trades`` (see ``fees``)."""
        await self.bench.price_fees(trades)
