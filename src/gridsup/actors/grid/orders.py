"""A grid's side of the orders channel: updates handed to the strategy, place and cancel
with retries, snapshot queries, and the cancels of ``gridsup stop --cancel-orders``.

Lost requests and replies are re-sent by the :class:`Requester` (every request is
idempotent at the execution actor); this module adds what the *answers* call for: a
retryable refusal (rate limit, exchange away) is tried again with backoff, a final
refusal of a placement goes back to the strategy as an event, a refused cancel is logged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import assert_never

import structlog

from gridsup.actors.grid.context import ActionKind, OrderAction
from gridsup.messages.common import OrderStatus
from gridsup.messages.orders import (
    CancelOrder,
    OrderAck,
    OrderRejected,
    OrderReply,
    OrderSnapshot,
    OrderUpdate,
    PlaceOrder,
    QueryOrders,
)
from gridsup.runtime.requests import Requester
from gridsup.strategy.grid import GridTradingStrategy

log = structlog.get_logger("gridsup.actors.strategy")

_RETRY_FIRST_S = 0.5
_RETRY_MAX_S = 30.0


def apply_update(strategy: GridTradingStrategy, update: OrderUpdate) -> bool:
    """Hand one order update to the strategy; False when it changes nothing (an order
    that is not the grid's any more, or an acknowledgement without a fill)."""
    cid = update.client_order_id
    if not strategy.tracks(cid):
        return False
    if update.fill is not None:
        strategy.on_order_filled(update.fill)  # idempotent by cumulative filled amount
    match update.status:
        case OrderStatus.OPEN:
            return update.fill is not None
        case OrderStatus.CLOSED | OrderStatus.CANCELED | OrderStatus.EXPIRED:
            # Closed without (all) its trades reported, or cancelled: the order is done.
            if strategy.tracks(cid):
                strategy.on_order_cancelled(cid, update.filled)
        case OrderStatus.REJECTED:
            strategy.on_order_rejected(cid, update.reason or "rejected")
        case _ as unreachable:
            assert_never(unreachable)
    return True


def retry_delay(attempt: int) -> float:
    """Backoff before try ``attempt`` + 1: 0.5 s doubling to 30 s."""
    return float(min(_RETRY_FIRST_S * 2 ** max(attempt - 1, 0), _RETRY_MAX_S))


class OrderLink:
    """Orders of grid ``grid`` (on ``symbol``) through ``requester``.

    ``refused`` gets the final refusal of a placement (the strategy must hear of it);
    ``wanted`` says whether an order is still worth a retry (a resync may have settled it).
    """

    def __init__(
        self,
        requester: Requester[OrderReply],
        grid: str,
        symbol: str,
        *,
        refused: Callable[[OrderRejected], None],
        wanted: Callable[[str], bool],
    ) -> None:
        self.requester = requester
        self.grid = grid
        self.symbol = symbol
        self._refused = refused
        self._wanted = wanted
        self._retries: dict[str, int] = {}
        self.retried = 0
        # Cancels under way (sent and not answered for good, or waiting for a retry):
        # a cancel asked for again meanwhile is not sent twice.
        self._cancelling: set[str] = set()
        # Placements refused for a passing reason, retried with backoff: client id ->
        # the exchange's reason (``gridsup status`` shows them as waiting).
        self.waiting: dict[str, str] = {}

    def send(self, action: OrderAction) -> None:
        """Send a place or cancel; its answer is handled when it comes."""
        requester = self.requester
        match action.kind:
            case ActionKind.PLACE:
                assert action.intent is not None
                message: PlaceOrder | CancelOrder = PlaceOrder(
                    request_id=requester.next_id(), strategy=self.grid, intent=action.intent
                )
            case ActionKind.CANCEL:
                self._cancelling.add(action.client_order_id)
                message = self._cancel(action.client_order_id)
            case _ as unreachable:
                assert_never(unreachable)
        requester.fire(message, lambda reply: self._on_reply(action, reply))

    def resend_cancels(self, client_order_ids: Iterable[str]) -> int:
        """Send the cancel of each order named again, unless one is under way; how many
        were sent. After a reconciliation: a cancel whose answer never came (lost with a
        process that stopped, or its retry dropped while the grid resynced) must reach
        the exchange all the same (the execution actor answers a repeat idempotently)."""
        sent = 0
        for cid in client_order_ids:
            if cid not in self._cancelling:
                self.send(OrderAction(ActionKind.CANCEL, cid))
                sent += 1
        return sent

    def _cancel(self, client_order_id: str) -> CancelOrder:
        return CancelOrder(
            request_id=self.requester.next_id(),
            strategy=self.grid,
            client_order_id=client_order_id,
            symbol=self.symbol,
        )

    def _on_reply(self, action: OrderAction, reply: OrderReply) -> None:
        cid = action.client_order_id
        if action.kind is ActionKind.CANCEL and not (
            isinstance(reply, OrderRejected) and reply.retryable
        ):
            self._cancelling.discard(cid)  # answered for good
        match reply:
            case OrderAck():
                self._retries.pop(cid, None)
                self.waiting.pop(cid, None)
            case OrderRejected(retryable=True, reason=reason):
                attempt = self._retries.get(cid, 0) + 1
                self._retries[cid] = attempt
                if action.kind is ActionKind.PLACE:
                    self.waiting[cid] = reason
                delay = retry_delay(attempt)
                self.retried += 1
                log.warning(
                    "order_request_retried",
                    grid=self.grid,
                    client_order_id=cid,
                    reason=reason,
                    delay_s=delay,
                )
                asyncio.get_running_loop().call_later(delay, self._retry, action)
            case OrderRejected(reason=reason):
                self._retries.pop(cid, None)
                self.waiting.pop(cid, None)
                if action.kind is ActionKind.PLACE:
                    self._refused(reply)
                else:
                    log.warning(
                        "order_cancel_refused", grid=self.grid, client_order_id=cid, reason=reason
                    )
            case OrderSnapshot():
                log.warning("order_reply_unexpected", grid=self.grid, reply="snapshot")
            case _ as unreachable:
                assert_never(unreachable)

    def _retry(self, action: OrderAction) -> None:
        if self._wanted(action.client_order_id):
            self.send(action)
        else:  # settled meanwhile, or the grid is resyncing (which sends it again)
            self._retries.pop(action.client_order_id, None)
            self.waiting.pop(action.client_order_id, None)
            self._cancelling.discard(action.client_order_id)

    async def query(self, client_order_ids: tuple[str, ...]) -> OrderSnapshot:
        """The grid's snapshot, with the fate of ``client_order_ids``. A refused query is
        asked again with backoff: missing evidence is not an outcome."""
        attempt = 0
        while True:
            attempt += 1
            reply = await self.requester.request(
                QueryOrders(
                    request_id=self.requester.next_id(),
                    strategy=self.grid,
                    symbol=self.symbol,
                    client_order_ids=client_order_ids,
                )
            )
            match reply:
                case OrderSnapshot():
                    return reply
                case OrderRejected() | OrderAck():
                    reason = reply.reason if isinstance(reply, OrderRejected) else "ack"
                    log.warning("order_query_failed", grid=self.grid, reason=reason)
                    await asyncio.sleep(retry_delay(attempt))
                case _ as unreachable:
                    assert_never(unreachable)

    async def cancel_all(self, client_order_ids: Iterable[str], timeout: float) -> None:
        """Cancel every order named and wait up to ``timeout`` s for the answers (run
        from ``on_stop``, when the actor's reply reader is gone: this reads them itself)."""
        waits = [
            asyncio.ensure_future(self.requester.request(self._cancel(cid)))
            for cid in client_order_ids
        ]
        reader = asyncio.ensure_future(self.requester.run())
        try:
            done, pending = await asyncio.wait(waits, timeout=timeout) if waits else ((), ())
        finally:
            reader.cancel()
        for task in pending:
            task.cancel()
        log.info(
            "grid_orders_cancelled", grid=self.grid, answered=len(done), unanswered=len(pending)
        )
