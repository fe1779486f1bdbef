"""A grid's ticks, listened to only while its strategy can use one.

Only ticks can leave a finite band (a stop) or start a grid waiting for its first price
(``tick_band()`` None); a running grid without stop-loss/take-profit (``tick_band()`` is
(-inf, +inf)) gets its fills from the execution actor, and each tick would cost its
process a wake-up for nothing -- a hundred of them at once on a price move, just when
the execution actor needs the CPU. So the strategy actor unsubscribes from its symbol on
the MARKET socket, the publisher stops sending it ticks and an idle grid never wakes for
the market; it subscribes again as soon as the band is finite or None.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from gridsup.messages.market import Tick
from gridsup.strategy.grid import GridTradingStrategy

log = structlog.get_logger("gridsup.actors.strategy")

_EVERY_PRICE = (float("-inf"), float("inf"))  # a tick_band() no tick can leave


@dataclass(eq=False, slots=True)
class TickGate:
    """Grid ``grid``'s subscription to its symbol's ticks; ``subscribe(on)`` subscribes or
    unsubscribes the actor's MARKET socket. ``on`` starts True: the socket subscribes to
    the symbol when it opens.
    """

    subscribe: Callable[[bool], None]
    grid: str
    on: bool = True
    last_at: float | None = None  # time.monotonic() of the last tick received

    def wakes(self, strategy: GridTradingStrategy, tick: Tick) -> bool:
        """A tick came: note when, and say whether ``strategy`` could act on it."""
        self.last_at = time.monotonic()
        band = strategy.tick_band()
        # Inside the band the strategy would do nothing: skip the wake-up.
        return not (band is not None and band[0] <= float(tick.last) <= band[1])

    def follow(self, strategy: GridTradingStrategy, *, aborted: bool) -> None:
        """Subscribe to the symbol's ticks only while ``strategy`` can use one (never for
        an ``aborted`` grid).

        Called after the start and after every batch of events (where the strategy's
        phase changes), it touches the socket only when the wanted subscription changes
        (ZeroMQ counts subscriptions: two SUBSCRIBEs would need two UNSUBSCRIBEs).
        """
        wanted = not aborted and strategy.tick_band() != _EVERY_PRICE
        if wanted is self.on:
            return
        self.on = wanted
        self.subscribe(wanted)
        log.info("grid_ticks", grid=self.grid, ticks="on" if wanted else "off")

    def age(self) -> float | None:
        """Seconds since the last tick; None before the first one, and while unsubscribed
        (the grid has no tick age of its own: ``gridsup status`` shows the market-data
        actor's age of the symbol instead)."""
        if self.last_at is None or not self.on:
            return None
        return time.monotonic() - self.last_at
