"""Order creation that never places an order twice, and what a create request sends.

:func:`order_request` rounds an order to the market's precision and checks it and its
client id before anything is sent (:class:`OrderRequest`). A create request that times
out, loses its connection or gets a 5xx may or may not have placed the order. Before
any retry the order is looked up by its client order id: found, it is the answer; not
found, the create is retried with the same client id (so the exchange refuses a late
duplicate, which is again settled by a look-up); the look-up failing too raises
``AmbiguousOrder``: unknown stays unknown.
"""

from __future__ import annotations

import decimal
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt
import structlog

from gridsup.exchange.ccxt import convert
from gridsup.exchange.ccxt.dialects import Dialect
from gridsup.exchange.ccxt.errors import ambiguous_on_create
from gridsup.exchange.ccxt.requests import RequestRunner
from gridsup.exchange.errors import (
    AmbiguousOrder,
    DuplicateOrder,
    ExchangeError,
    InvalidOrder,
    OrderNotFound,
)
from gridsup.exchange.precision import prepare_order
from gridsup.exchange.types import Market, Order
from gridsup.messages.common import OrderType, Side

__all__ = ["CreateAttempts", "OrderRequest", "order_request"]

log = structlog.get_logger(__name__)


def _plain(value: Decimal) -> str:
    """Decimal as plain text for ccxt (never exponent notation, never a float)."""
    return format(value, "f")


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """One create request as ccxt is given it: amount and price rounded and as plain
    text, ``client_order_id`` ours, ``params`` carrying it in the venue's form."""

    symbol: str
    side: Side
    type: OrderType
    amount: str
    price: str | None
    client_order_id: str
    params: dict[str, str]

    def sent(self) -> dict[str, Any]:
        """What was sent, as ccxt's order fields (``convert.completed_ack`` fills a
        terse answer from it)."""
        return {
            "symbol": self.symbol,
            "side": self.side.value,
            "type": self.type.value,
            "amount": self.amount,
            "price": self.price,
        }

    async def create(self, client: Any) -> Any:
        """One ccxt ``create_order`` call of this request (its raw answer).

        Raises:
            ccxt.BaseError: what ccxt raises.
        """
        return await client.create_order(
            self.symbol,
            self.type.value,
            self.side.value,
            self.amount,
            self.price,
            dict(self.params),
        )


def order_request(
    client: Any,
    dialect: Dialect,
    market: Market,
    symbol: str,
    side: Side,
    type: OrderType,
    amount: Decimal,
    price: Decimal | None,
    reference: Decimal | None,
    client_order_id: str | None,
) -> OrderRequest:
    """The create request of an order on ``market`` (``symbol``, ccxt's unified one):
    rounded to the market's precision (ccxt's own where the market has no step),
    checked against its minimums (``reference`` stands in for a market order's price),
    under ``client_order_id`` or, without one, a generated id, so that a lost answer
    can always be settled by a look-up.

    Raises:
        BelowMinimum: under the minimum amount or notional.
        InvalidOrder: amount or price not positive, or the client id refused by the
            venue's dialect.
    """
    amount, price = prepare_order(market, amount, price, reference)
    with decimal.localcontext():  # ccxt's rounding changes the current context
        if market.amount_step is None:
            amount = Decimal(client.amount_to_precision(symbol, _plain(amount)))
        if price is not None and market.price_step is None:
            price = Decimal(client.price_to_precision(symbol, _plain(price)))
    cid = client_order_id or uuid.uuid4().hex
    problem = dialect.client_id_problem(cid)
    if problem is not None:
        raise InvalidOrder(f"{symbol}: client order id refused before sending: {problem}")
    return OrderRequest(
        symbol=symbol,
        side=side,
        type=type,
        amount=_plain(amount),
        price=None if price is None else _plain(price),
        client_order_id=cid,
        params={"clientOrderId": dialect.encode_client_id(cid)},
    )


class CreateAttempts:
    """The attempts of one create request, identified by its client order id.

    ``send`` performs one ccxt create call; ``lookup`` fetches the order by the client
    id (raising ``OrderNotFound`` when absent); ``runner`` maps ccxt's errors and
    backs off between attempts (``requests.RequestRunner``).
    """

    def __init__(
        self,
        *,
        exchange_id: str,
        symbol: str,
        client_order_id: str,
        send: Callable[[], Awaitable[Any]],
        lookup: Callable[[], Awaitable[Order]],
        runner: RequestRunner,
        to_order: Callable[[Any], Order] = convert.to_order,
    ) -> None:
        self._context = {
            "exchange": exchange_id,
            "symbol": symbol,
            "client_order_id": client_order_id,
        }
        self._cid = client_order_id
        self._send = send
        self._lookup = lookup
        self._runner = runner
        self._convert = to_order

    async def run(self) -> Order:
        """Create the order (at most one on the exchange), retrying temporary errors.

        Raises:
            AmbiguousOrder: the outcome could not be settled by a look-up.
            DuplicateOrder: the client id was used before this request.
            ExchangeError: the mapped error of the last attempt (the order was not placed).
        """
        uncertain = False  # an earlier attempt may have placed the order
        retry = 0
        while True:
            try:
                order = self._convert(await self._send())
                log.info("order_placed", **self._context)
                return order
            except ccxt.BaseError as exc:
                error = self._runner.map_error(exc)
                cause: Exception = exc
            if isinstance(error, DuplicateOrder) and uncertain:
                # our own earlier attempt got through: that order is the answer.
                found = await self._settle(error)
                if found is not None:
                    return found
                raise AmbiguousOrder(str(error), client_order_id=self._cid) from cause
            if ambiguous_on_create(error):
                found = await self._settle(error)
                if found is not None:
                    log.warning("order_found_after_lost_response", **self._context)
                    return found
                uncertain = True
            retry += 1
            delay = self._runner.retry_delay(retry, error)
            if delay is None:
                raise error from cause
            log.warning(
                "order_create_retried",
                retry=retry,
                delay=delay,
                error=error.__class__.__name__,
                **self._context,
            )
            await self._runner.pause(error, delay)

    async def _settle(self, error: ExchangeError) -> Order | None:
        """After a lost create response: the order if it exists, None if it does not.

        Raises:
            AmbiguousOrder: the look-up itself failed, so the outcome stays unknown.
        """
        try:
            return await self._lookup()
        except OrderNotFound:
            log.warning("order_absent_after_lost_response", **self._context)
            return None
        except ExchangeError as lookup_error:
            log.error(
                "order_outcome_unknown",
                error=str(error),
                lookup_error=str(lookup_error),
                **self._context,
            )
            raise AmbiguousOrder(
                f"{self._context['exchange']} {self._context['symbol']}: create of "
                f"{self._cid} failed ({error}) and the look-up failed too ({lookup_error})",
                client_order_id=self._cid,
            ) from lookup_error
