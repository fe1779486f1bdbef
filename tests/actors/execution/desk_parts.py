"""A Desk on a real paper account (``PaperExchange`` behind the dry-run ``PaperVenue``),
as the execution actor builds it, without its sockets: what the Desk answers, stores and
publishes is read straight from its return values and from the account."""

from __future__ import annotations

from decimal import Decimal

from gridsup.actors.execution.budget import Budgets
from gridsup.actors.execution.desk import Desk
from gridsup.actors.execution.ratelimit import TokenBucket
from gridsup.actors.execution.tracked_orders import OrderBook
from gridsup.actors.execution.venue import PaperVenue
from gridsup.actors.run_config import GridSpec, Mode, RunConfig
from gridsup.exchange.paper.engine import PaperExchange
from gridsup.messages.common import OrderIntent, OrderType, Side
from gridsup.messages.market import Tick
from gridsup.messages.orders import PlaceOrder
from gridsup.strategy.ids import grid_tag, make_client_order_id_for_tag
from helpers import BTC_USDT

D = Decimal
SYMBOL = BTC_USDT.symbol
EPOCH = 1_700_000_000_000


def cid(grid: str, level: int, side: Side = Side.BUY, cycle: int = 0) -> str:
    """The client id grid ``grid`` gives its order at ``level``."""
    return make_client_order_id_for_tag(grid_tag(grid), level, side, cycle)


class PaperDesk:
    """Grids ``a`` and ``b`` (1000 USDT each) on a paper account of 10000 USDT and
    1 BTC, the last price 52000."""

    def __init__(self, member: str | None = None) -> None:
        self.run = RunConfig(
            run_dir="/nonexistent",
            exchange_id="paper",
            mode=Mode.DRY_RUN,
            db_url="sqlite://",
            markets={SYMBOL: BTC_USDT},
            grids=tuple(
                GridSpec(name=g, grid_id=g, symbol=SYMBOL, config={}, budget_quote=D(1000))
                for g in ("a", "b")
            ),
            member=member,
        )
        self.account = PaperExchange({SYMBOL: BTC_USDT}, {"USDT": D(10000), "BTC": D(1)})
        self.account.on_price(SYMBOL, D(52000), EPOCH)
        self.budgets = Budgets({g.name: g.budget_quote for g in self.run.grids})
        self.book = OrderBook()
        self.desk = Desk(
            self.run, self.book, self.budgets, PaperVenue(self.account, TokenBucket(1e6)), EPOCH
        )
        self._requests = 0

    def place(
        self, grid: str, level: int, price: str, amount: str = "0.01", side: Side = Side.BUY
    ) -> PlaceOrder:
        self._requests += 1
        intent = OrderIntent(
            client_order_id=cid(grid, level, side),
            symbol=SYMBOL,
            side=side,
            type=OrderType.LIMIT,
            amount=D(amount),
            price=D(price),
        )
        return PlaceOrder(request_id=f"r{self._requests}", strategy=grid, intent=intent)

    def tick(self, price: str, at: int = 1) -> Tick:
        return Tick(symbol=SYMBOL, timestamp=EPOCH + at, last=D(price))
