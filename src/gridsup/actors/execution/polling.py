"""REST polling of a live account: the execution actor's fill feed when it has no stream
(``user_stream`` off, or a venue without one), and the stream's fallback.

Both go through one :class:`AccountPoller`, so polling is paced the same way whoever
drives it: each poll asks for what the account's :class:`PollPlan` names next (one
symbol in turn, or every symbol at once when that weighs less) and waits
``plan.delay`` before it — a round over every symbol takes at least
``poll_interval_ms`` and stays within :data:`EXECUTION_IDLE_SHARE` of the venue's weight
limit — and every request it sends is charged to the host's shared request budget by
the exchange client (``exchange/budget.py``). A fallback poll is thus never more
expensive than the idle polling of an account without streams.

The account pause (keys refused: docs/exchange.md, "Refusals") is kept here too: a poll
refused for the account pauses it; while it is paused a poll is a **probe**, sent at most
once every ``probe_s``, and the first poll that succeeds resumes every grid.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

import structlog

from gridsup.actors.execution.booking import Records
from gridsup.actors.execution.desk import Desk
from gridsup.actors.execution.poller import poll
from gridsup.actors.execution.tracked_orders import TrackedOrders
from gridsup.actors.execution.venue import Venue
from gridsup.actors.request_budget import PollPlan
from gridsup.exchange.errors import ExchangeError
from gridsup.exchange.refusals import RefusalKind, refusal_kind

__all__ = ["AccountPoller"]

log = structlog.get_logger("gridsup.actors.execution")


class AccountPoller:
    """See the module docstring. ``commit`` takes what booking produced (the actor's
    durable-first path)."""

    def __init__(
        self,
        venue: Venue,
        book: TrackedOrders,
        desk: Desk,
        plan: PollPlan,
        commit: Callable[[Records], None],
        *,
        probe_s: float,
    ) -> None:
        self.venue = venue
        self.book = book
        self.desk = desk
        self.plan = plan
        self._commit = commit
        self.probe_s = probe_s
        self.polls = self.failures = 0
        self._due: float | None = None  # loop time of the next poll

    @property
    def paused(self) -> bool:
        return self.desk.paused is not None

    def delay_s(self) -> float:
        """How long to wait before the next poll: the plan's pace, or the probe period
        while the account is paused."""
        return self.probe_s if self.paused else self.plan.delay

    async def poll_once(self, *, every_symbol: bool = False, reason: str = "poll") -> bool:
        """One poll of what the plan names next (``every_symbol``: of the whole account,
        as a reconcile does); False when it failed (an account refusal pauses the
        account)."""
        target = None if every_symbol else self.plan.next()
        try:
            result = await poll(self.venue, self.book, self.desk.grid_of, target)
        except ExchangeError as exc:
            self.failures += 1
            if refusal_kind(exc) is RefusalKind.ACCOUNT:
                self.desk.pause(str(exc))
            log.warning("order_poll_failed", reason=reason, error=str(exc))
            return False
        self.polls += 1
        self.desk.resume()
        records = await self.desk.on_poll(result)
        if records[0] or records[1]:
            self._commit(records)
        return True

    async def run(self) -> None:
        """Poll for ever at the plan's pace (cancelled with the actor)."""
        await self.run_for(math.inf)

    async def run_for(self, seconds: float, until: Callable[[], bool] | None = None) -> None:
        """Poll at the plan's pace for ``seconds`` (the stream's fallback between two
        subscription attempts), or until ``until()`` holds after a poll. The pace holds
        across calls: a poll is due ``delay_s()`` after the previous one, however the
        calls cut the time."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            now = loop.time()
            if self._due is None:
                self._due = now + self.delay_s()
            if self._due > deadline:
                await asyncio.sleep(deadline - now)
                return
            await asyncio.sleep(max(0.0, self._due - now))
            await self.poll_once()
            self._due = loop.time() + self.delay_s()
            if until is not None and until():
                return
