"""A Desk and its parts on a real paper account (``PaperExchange`` behind the dry-run
``PaperVenue``), as the execution actor builds them, without its sockets: what they
answer, store and publish is read straight from their return values and from the
account. Also the orders and trades the desk's tests send and script."""

from __future__ import annotations

from decimal import Decimal

from gridsup.actors.execution.admission import Admission
from gridsup.actors.execution.booking import Booking
from gridsup.actors.execution.budget import Budgets
from gridsup.actors.execution.desk import Desk
from gridsup.actors.execution.inflight import InFlight
from gridsup.actors.execution.outbox import OutboxEntry
from gridsup.actors.execution.ratelimit import TokenBucket
from gridsup.actors.execution.tracked_orders import TrackedOrders
from gridsup.actors.execution.venue import PaperVenue, Venue
from gridsup.actors.execution.workbench import Workbench
from gridsup.actors.run_config import GridSpec, Mode, RunConfig
from gridsup.exchange.paper.engine import PaperExchange
from gridsup.exchange.types import Order, Trade
from gridsup.messages.common import OrderIntent, OrderStatus, OrderType, Side
from gridsup.messages.market import MarketInfo, Tick
from gridsup.messages.orders import CancelOrder, OrderUpdate, PlaceOrder
from gridsup.strategy.ids import grid_tag, make_client_order_id_for_tag
from helpers import BTC_USDT

D = Decimal
SYMBOL = BTC_USDT.symbol
EPOCH = 1_700_000_000_000


def cid(grid: str, level: int, side: Side = Side.BUY, cycle: int = 0) -> str:
    """The client id grid ``grid`` gives its order at ``level``."""
    return make_client_order_id_for_tag(grid_tag(grid), level, side, cycle)


def limit_intent(
    grid: str,
    level: int,
    price: str | int,
    amount: str = "0.01",
    *,
    side: Side = Side.BUY,
    cycle: int = 0,
    symbol: str = SYMBOL,
) -> OrderIntent:
    """Grid ``grid``'s limit order at ``level`` in ``cycle``."""
    return OrderIntent(
        client_order_id=cid(grid, level, side, cycle),
        symbol=symbol,
        side=side,
        type=OrderType.LIMIT,
        amount=D(amount),
        price=D(price),
    )


def place_order(
    grid: str,
    level: int,
    price: str | int,
    amount: str = "0.01",
    *,
    cycle: int = 0,
    request_id: str = "r",
) -> PlaceOrder:
    """Grid ``grid``'s placement of its limit buy at ``level`` in :data:`SYMBOL`."""
    intent = limit_intent(grid, level, price, amount, cycle=cycle)
    return PlaceOrder(request_id=request_id, strategy=grid, intent=intent)


def cancel_order(grid: str, level: int, request_id: str = "c") -> CancelOrder:
    return CancelOrder(
        request_id=request_id, strategy=grid, client_order_id=cid(grid, level), symbol=SYMBOL
    )


def order_of(intent: OrderIntent, order_id: str, status: OrderStatus, filled: str = "0") -> Order:
    """The exchange's record of ``intent`` as order ``order_id``."""
    return Order(
        id=order_id,
        client_order_id=intent.client_order_id,
        symbol=intent.symbol,
        side=intent.side,
        type=intent.type,
        status=status,
        price=intent.price,
        amount=intent.amount,
        filled=D(filled),
        timestamp=1,
    )


def trade_of(
    order: Order, trade_id: str = "t1", fee: str = "0.00001", fee_currency: str = "BTC"
) -> Trade:
    """One trade that fills all of ``order`` at its price."""
    return Trade(
        id=trade_id,
        order_id=order.id,
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=order.side,
        price=order.price or D(0),
        amount=order.amount,
        fee=D(fee),
        fee_currency=fee_currency,
        timestamp=2,
    )


def updates(actions: list[OutboxEntry]) -> list[OrderUpdate]:
    """The OrderUpdates among what the desk would publish."""
    return [a[2] for a in actions if isinstance(a[2], OrderUpdate)]


def grids_run(
    *grids: str,
    budget: str | int = 1000,
    mode: Mode = Mode.DRY_RUN,
    exchange_id: str = "paper",
    market: MarketInfo = BTC_USDT,
    member: str | None = None,
) -> RunConfig:
    """A run of ``grids`` (default ``a`` and ``b``), each with ``budget`` USDT in ``market``."""
    return RunConfig(
        run_dir="/nonexistent",
        exchange_id=exchange_id,
        mode=mode,
        db_url="sqlite://",
        markets={market.symbol: market},
        grids=tuple(
            GridSpec(name=g, grid_id=g, symbol=market.symbol, config={}, budget_quote=D(budget))
            for g in grids or ("a", "b")
        ),
        member=member,
    )


class PaperAccount:
    """Grids ``a`` and ``b`` (1000 USDT each) on a paper account of 10000 USDT and
    1 BTC, the last price 52000; and the pieces a Desk's parts share, built as the Desk
    builds them (:meth:`bench`), for a part to be built alone."""

    def __init__(self, member: str | None = None) -> None:
        self.run = grids_run(member=member)
        self.account = PaperExchange({SYMBOL: BTC_USDT}, {"USDT": D(10000), "BTC": D(1)})
        self.account.on_price(SYMBOL, D(52000), EPOCH)
        self.budgets = Budgets({g.name: g.budget_quote for g in self.run.grids})
        self.book = TrackedOrders()
        self.venue: Venue = PaperVenue(self.account, TokenBucket(1e6))
        self.booking = Booking(self.run, self.book, self.budgets, "paper", EPOCH)
        self.admission = Admission(self.run, self.booking.grid_of)
        self.inflight = InFlight()
        self._requests = 0

    def bench(self) -> Workbench:
        """The shared pieces as they are now (a test may have swapped the venue)."""
        return Workbench(self.book, self.venue, self.booking, self.admission, self.inflight)

    def place(
        self, grid: str, level: int, price: str, amount: str = "0.01", side: Side = Side.BUY
    ) -> PlaceOrder:
        self._requests += 1
        intent = limit_intent(grid, level, price, amount, side=side)
        return PlaceOrder(request_id=f"r{self._requests}", strategy=grid, intent=intent)

    def tick(self, price: str, at: int = 1) -> Tick:
        return Tick(symbol=SYMBOL, timestamp=EPOCH + at, last=D(price))

    def place_elsewhere(self, client_order_id: str, price: int = 40000) -> Order:
        """An order on the account that no desk of this test placed."""
        return self.account.create_order(
            SYMBOL, Side.BUY, OrderType.LIMIT, D("0.01"), D(price), client_order_id
        )


class PaperDesk(PaperAccount):
    """A :class:`PaperAccount` with its Desk; the shared pieces are the Desk's own."""

    def __init__(self, member: str | None = None) -> None:
        super().__init__(member)
        self.desk = Desk(self.run, self.book, self.budgets, self.venue, EPOCH)
        self.booking = self.desk.booking
        self.admission = self.desk.admission
        self.inflight = self.desk.inflight
