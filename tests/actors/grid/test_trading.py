"""GridTrading, the strategy actor's trading path: nothing is applied while busy (the
start, a commit, a resync), events go in turn and each that changes the grid is
committed, a gap or a new epoch in the order updates asks for a resync, an update the
snapshot covered is skipped, an overflowing queue becomes a resync, and the idle timer
resyncs a quiet trading grid. The strategy is a real GridTradingStrategy; the committer
is a hand-written fake that records what it was asked to commit."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from grid_parts import grid_strategy

from gridsup.actors.grid import trading as trading_module
from gridsup.actors.grid.context import OrderAction
from gridsup.actors.grid.lifecycle import GridActorState
from gridsup.actors.grid.trading import GridTrading
from gridsup.messages.common import OrderStatus
from gridsup.messages.market import Tick
from gridsup.messages.orders import OrderUpdate

D = Decimal


class FakeCommitter:
    def __init__(self) -> None:
        self.commits: list[list[OrderAction]] = []

    def commit(self, actions: list[OrderAction]) -> None:
        self.commits.append(actions)


class Path:
    """A trading path wired as the strategy actor wires it, with what it asked for."""

    def __init__(self) -> None:
        self.strategy, self.outbox = grid_strategy()
        self.state = GridActorState.TRADING
        self.paused = False
        self.resyncs_asked = 0
        self.settled = 0
        self.alerts: list[Any] = []
        self.committer = FakeCommitter()
        self.trading = GridTrading(
            self.strategy,
            self.outbox,
            "btc",
            state=lambda: self.state,
            held=lambda: self.paused,
            resync=self._resync,
            settled=self._settled,
            raise_alert=lambda *alert: self.alerts.append(alert),
        )
        self.trading.committer = self.committer  # type: ignore[assignment]
        self.trading.epoch = 7

    def _resync(self) -> None:
        self.resyncs_asked += 1

    def _settled(self) -> None:
        self.settled += 1


def _tick(price: str) -> Tick:
    return Tick(symbol="BTC/USDT", timestamp=1, last=D(price))


def _update(seq: int, epoch: int = 7, cid: str = "unknown") -> OrderUpdate:
    return OrderUpdate(
        strategy="btc",
        seq=seq,
        client_order_id=cid,
        status=OrderStatus.OPEN,
        filled=D(0),
        epoch=epoch,
    )


def test_nothing_is_applied_until_the_start_is_done_then_a_commit_holds_the_queue() -> None:
    path = Path()

    path.trading.tick(_tick("52000"))
    assert path.committer.commits == []  # busy: the start is not done

    path.trading.resume()

    [actions] = path.committer.commits  # the grid's first orders
    assert actions and path.trading.busy
    path.trading.update(_update(1))
    assert (path.trading.queued, path.trading.events_handled) == (1, 0)  # waits its turn

    path.trading.resume()

    assert (path.trading.queued, path.trading.events_handled, path.trading.seq) == (0, 1, 1)
    assert not path.trading.busy and path.settled == 1


@pytest.mark.parametrize(
    ("update", "why"), [(_update(3), "a gap"), (_update(1, epoch=8), "a new epoch")]
)
def test_a_gap_or_a_new_epoch_asks_for_a_resync(update: OrderUpdate, why: str) -> None:
    path = Path()
    path.trading.resume()

    path.trading.update(update)

    assert (path.resyncs_asked, path.trading.resyncs) == (1, 1), why
    assert path.trading.busy and path.trading.queued == 0
    assert path.trading.events_handled == 0


def test_an_update_the_snapshot_covered_is_skipped() -> None:
    path = Path()
    path.trading.seq = 5
    path.trading.resume()

    path.trading.update(_update(5))

    assert (path.trading.seq, path.trading.events_handled, path.resyncs_asked) == (5, 0, 0)


def test_an_overflowing_queue_becomes_a_resync(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trading_module, "MAX_QUEUED", 3)
    path = Path()  # busy: the start is not done

    for seq in range(1, 5):
        path.trading.update(_update(seq))
    assert path.trading.queued == 0  # dropped: the snapshot will cover them

    path.trading.resume()

    assert path.resyncs_asked == 1


def test_a_held_path_applies_nothing() -> None:
    path = Path()
    path.paused = True
    path.trading.resume()

    path.trading.tick(_tick("52000"))

    assert path.committer.commits == [] and path.settled == 0


def test_the_idle_timer_resyncs_a_quiet_trading_grid_with_orders_out() -> None:
    path = Path()
    path.trading.tick(_tick("52000"))
    path.trading.resume()
    path.trading.resume()  # the orders' commit is through
    assert path.strategy.tracked_orders()

    assert 0 < path.trading.idle(60.0) <= 60.0  # not quiet long enough: waits the rest
    assert path.resyncs_asked == 0

    path.trading.quiet_since -= 61.0

    assert path.trading.idle(60.0) == 60.0
    assert path.resyncs_asked == 1
