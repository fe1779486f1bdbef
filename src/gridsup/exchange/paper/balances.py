"""The paper account's money: free and used (locked) amounts per asset.

Funds move only through these methods, so the rules live in one place. With fees in
quote (``settle``, the lenient mode): a buy locks ``amount*price*(1+fee)`` quote up front and
each fill spends its share of that lock; a sell locks its base and each fill
credits ``cost*(1-fee)`` quote. What an order still locks is recorded on the
order (``PaperOrder.locked``) and given back when it ends. With fees in the asset
received (``settle_received``, Binance's rule) a buy locks ``amount*price`` only and the
fee is taken from what the fill credits, or from free BNB (``fees``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from gridsup.exchange.errors import InsufficientFunds
from gridsup.exchange.paper.book import PaperOrder
from gridsup.exchange.types import Balance
from gridsup.messages.common import Side
from gridsup.messages.market import MarketInfo

__all__ = ["PaperBalances"]

_ZERO = Decimal(0)


class PaperBalances:
    """Free and used amount of every asset of one paper account."""

    __slots__ = ("free", "used")

    def __init__(self, free: dict[str, Decimal], used: dict[str, Decimal]) -> None:
        self.free = free
        self.used = used

    @classmethod
    def opening(cls, assets: Iterable[str], balances: Mapping[str, Decimal]) -> PaperBalances:
        """A new account: ``balances`` free, every other asset of ``assets`` at zero.

        Raises:
            ValueError: a balance is negative.
        """
        if any(v < 0 for v in balances.values()):
            raise ValueError("paper balances must not be negative")
        free = dict.fromkeys(sorted(set(assets) | set(balances)), _ZERO)
        free.update(balances)
        return cls(free, dict.fromkeys(free, _ZERO))

    def balance(self) -> Balance:
        """A copy, as the ``Exchange`` Protocol returns it."""
        return Balance(free=dict(self.free), used=dict(self.used))

    def lock(
        self, market: MarketInfo, side: Side, amount: Decimal, price: Decimal, fee: Decimal
    ) -> Decimal:
        """Lock what an order of ``amount`` at ``price`` may spend; returns the lock.

        Raises:
            InsufficientFunds: the free balance does not cover it (amounts named).
        """
        if side is Side.BUY:
            asset, need = market.quote, amount * price * (1 + fee)
        else:
            asset, need = market.base, amount
        free = self.free.get(asset, _ZERO)
        if free < need:
            raise InsufficientFunds(
                f"{side.value} {amount} {market.symbol} needs {need} {asset}, free {free}"
            )
        self.free[asset] = free - need
        self.used[asset] = self.used.get(asset, _ZERO) + need
        return need

    def settle(
        self, market: MarketInfo, order: PaperOrder, quantity: Decimal, price: Decimal, fee: Decimal
    ) -> Decimal:
        """Move the funds of one fill of ``order``; returns the fee (in quote).

        ``fee`` is the fee rate; the order's lock shrinks by what the fill used.
        """
        cost = quantity * price
        paid = cost * fee
        self._exchange(
            market, order, quantity, cost + paid if order.side is Side.BUY else cost - paid
        )
        return paid

    def settle_received(
        self,
        market: MarketInfo,
        order: PaperOrder,
        quantity: Decimal,
        price: Decimal,
        fee: Decimal,
        fee_asset: str,
    ) -> None:
        """Move the funds of one fill of ``order`` whose commission ``fee`` is charged
        in ``fee_asset`` (the asset received, or BNB; ``fees.commission``)."""
        self._exchange(market, order, quantity, quantity * price)
        self.free[fee_asset] = self.free.get(fee_asset, _ZERO) - fee
        self.used.setdefault(fee_asset, _ZERO)

    def _exchange(
        self, market: MarketInfo, order: PaperOrder, quantity: Decimal, quote: Decimal
    ) -> None:
        """Swap one fill's funds: a buy pays ``quote`` out of its lock for ``quantity``
        base; a sell pays ``quantity`` base out of its lock for ``quote``."""
        if order.side is Side.BUY:
            order.locked -= quote
            self.used[market.quote] -= quote
            self.free[market.base] += quantity
        else:
            order.locked -= quantity
            self.used[market.base] -= quantity
            self.free[market.quote] += quote

    def release(self, market: MarketInfo, order: PaperOrder) -> None:
        """Give back what ``order`` still locks (it was cancelled or completed)."""
        asset = market.quote if order.side is Side.BUY else market.base
        self.used[asset] -= order.locked
        self.free[asset] += order.locked
        order.locked = _ZERO
