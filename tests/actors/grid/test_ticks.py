"""TickGate: a grid listens to its symbol's ticks only while its strategy can use one
(waiting for its first price, or with a stop band), and wakes only for a tick outside
that band. The strategies are real GridTradingStrategy objects on the actor's outbox."""

from __future__ import annotations

from decimal import Decimal

import pytest
from grid_parts import grid_strategy

from gridsup.actors.grid.ticks import TickGate
from gridsup.messages.market import Tick
from gridsup.strategy.grid import GridTradingStrategy

D = Decimal


def grid(**overrides: object) -> GridTradingStrategy:
    return grid_strategy(**overrides)[0]


def tick(price: str) -> Tick:
    return Tick(symbol="BTC/USDT", timestamp=1, last=D(price))


class Subscriptions:
    """The MARKET socket's side: every subscribe(True/False) the gate asked for."""

    def __init__(self) -> None:
        self.calls: list[bool] = []

    def __call__(self, on: bool) -> None:
        self.calls.append(on)


def test_a_running_grid_without_stops_unsubscribes_once() -> None:
    strategy, socket = grid(), Subscriptions()
    gate = TickGate(socket, "btc")
    assert gate.wakes(strategy, tick("52000"))  # the first price: the strategy must act
    strategy.on_tick(tick("52000"))

    gate.follow(strategy, aborted=False)
    gate.follow(strategy, aborted=False)  # unchanged: the socket is not touched again

    assert (socket.calls, gate.on, gate.age()) == ([False], False, None)


def test_a_grid_with_a_stop_loss_keeps_listening_and_wakes_only_outside_its_band() -> None:
    strategy, socket = grid(stop_loss_pct="0.1"), Subscriptions()
    gate = TickGate(socket, "btc")
    strategy.on_tick(tick("52000"))

    gate.follow(strategy, aborted=False)
    band = strategy.tick_band()

    assert band is not None and band[0] > float("-inf")
    assert (socket.calls, gate.on) == ([], True)
    assert gate.wakes(strategy, tick(str(band[0] + 1))) is False
    assert gate.wakes(strategy, tick(str(band[0] - 1))) is True
    assert gate.age() is not None


@pytest.mark.parametrize("first_price", [False, True])
def test_an_aborted_grid_never_listens(first_price: bool) -> None:
    strategy, socket = grid(stop_loss_pct="0.1"), Subscriptions()
    gate = TickGate(socket, "btc")
    if first_price:
        strategy.on_tick(tick("52000"))

    gate.follow(strategy, aborted=True)

    assert (socket.calls, gate.on) == ([False], False)


def test_a_grid_waiting_for_its_first_price_subscribes_again() -> None:
    waiting, socket = grid(), Subscriptions()
    gate = TickGate(socket, "btc", on=False)  # unsubscribed, say after an abort was lifted

    gate.follow(waiting, aborted=False)

    assert (socket.calls, gate.on) == ([True], True)
    assert gate.age() is None  # no tick yet
