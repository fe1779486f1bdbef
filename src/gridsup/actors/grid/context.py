"""The ``ExecutionContext`` a strategy actor hands its strategy: an outbox.

The strategy's calls return at once and only *queue* requests; the actor sends them
after the state that mentions them is durable (save, Ack, then send). A crash between
the two leaves a tracked order the exchange never saw, which reconciliation re-sends
under the same client id -- never an order the state does not know.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass

from gridsup.messages.common import OrderIntent
from gridsup.messages.market import MarketInfo


class ActionKind(enum.Enum):
    PLACE = "place"
    CANCEL = "cancel"


@dataclass(frozen=True, slots=True)
class OrderAction:
    kind: ActionKind
    client_order_id: str
    intent: OrderIntent | None = None  # PLACE only


class OutboxContext:
    """Collects the strategy's place/cancel calls until :meth:`take` hands them over."""

    __slots__ = ("_market", "_outbox")

    def __init__(self, market: MarketInfo) -> None:
        self._market = market
        self._outbox: list[OrderAction] = []

    @property
    def market(self) -> MarketInfo:
        return self._market

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def place_order(self, intent: OrderIntent) -> None:
        self._outbox.append(OrderAction(ActionKind.PLACE, intent.client_order_id, intent))

    def cancel_order(self, client_order_id: str) -> None:
        self._outbox.append(OrderAction(ActionKind.CANCEL, client_order_id))

    @property
    def has_actions(self) -> bool:
        return bool(self._outbox)

    def take(self) -> list[OrderAction]:
        """The queued actions, in the order the strategy made them; the outbox empties."""
        actions, self._outbox = self._outbox, []
        return actions
