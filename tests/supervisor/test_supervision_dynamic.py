"""Children that come and go while the supervisor runs (a cluster member given or
relieved of grids): through the Effects seam with a fake clock, no processes."""

from __future__ import annotations

from test_supervision_policy import make, running, spec

from gridsup.supervisor.spec import Group
from gridsup.supervisor.states import ChildState, SupervisorState


def test_a_grid_added_while_running_is_spawned_and_supervised() -> None:
    sup, fx, _ = make(spec("persistence", Group.PERSISTENCE))
    assert sup.state is SupervisorState.RUNNING

    added = sup.add(spec("grid-a"))
    running(sup, fx)

    assert added
    assert [name for name, _ in fx.spawned] == ["persistence", "grid-a"]
    assert sup.children["grid-a"].state is ChildState.RUNNING
    # It is stopped with the rest, strategies first.
    sup.stop()
    assert fx.stops == ["grid-a"]


def test_adding_a_live_child_again_changes_nothing() -> None:
    sup, fx, _ = make(spec("grid-a"))

    assert not sup.add(spec("grid-a"))
    assert [name for name, _ in fx.spawned] == ["grid-a"]


def test_a_retired_child_is_stopped_without_cancelling_and_forgotten_once_gone() -> None:
    sup, fx, _ = make(spec("persistence", Group.PERSISTENCE), spec("grid-a"), spec("grid-b"))
    running(sup, fx)  # the strategy group started once persistence was Ready
    pid = sup.children["grid-a"].pid
    assert pid is not None

    sup.retire("grid-a")
    assert fx.stops == ["grid-a"]
    assert "grid-a" in sup.children  # still stopping
    sup.on_exit("grid-a", pid, 0)

    assert "grid-a" not in sup.children
    assert sup.children["grid-b"].state is ChildState.RUNNING
    assert [c.name for c in sup.status()] == ["persistence", "grid-b"]


def test_a_failed_child_is_replaced_by_a_fresh_one_when_added_again() -> None:
    # A grid whose lock was still held by the previous owner exits 75 (fatal): the
    # cluster loop adds it again later, with fresh restart intensity.
    sup, fx, alerts = make(spec("grid-a"))
    pid = sup.children["grid-a"].pid
    assert pid is not None
    sup.on_exit("grid-a", pid, 75)
    assert sup.children["grid-a"].state is ChildState.FAILED
    assert len(alerts) == 1

    assert sup.add(spec("grid-a"))
    running(sup, fx)

    assert sup.children["grid-a"].state is ChildState.RUNNING
    assert [name for name, _ in fx.spawned] == ["grid-a", "grid-a"]


def test_nothing_is_added_while_stopping() -> None:
    sup, _, _ = make(spec("grid-a"))
    sup.stop()

    assert not sup.add(spec("grid-b"))
    assert "grid-b" not in sup.children
