"""Grid actions on the supervisor's side, with real Supervision over fake process effects:
the checks (unknown grid, paused already, not paused, stopped, supervisor stopping), the
command each sends, the audit listener, and a pause that survives a restart."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from gridsup.messages.control import (
    GridAction,
    GridActionKind,
    GridActionOutcome,
    GridActionReply,
    Pause,
    Resume,
)
from gridsup.supervisor.grid_actions import GridActions
from gridsup.supervisor.spec import ChildSpec, Group
from gridsup.supervisor.states import ChildState
from gridsup.supervisor.supervision import Supervision
from supervisor_fakes import FakeEffects

P, R, S = GridActionKind.PAUSE, GridActionKind.RESUME, GridActionKind.STOP
DONE, REFUSED, UNKNOWN = (
    GridActionOutcome.DONE,
    GridActionOutcome.REFUSED,
    GridActionOutcome.UNKNOWN_GRID,
)


@dataclass
class World:
    sup: Supervision
    fx: FakeEffects
    actions: GridActions
    sent: list[tuple[str, Pause | Resume]]
    heard: list[tuple[GridAction, GridActionReply]]


def world() -> World:
    specs = [
        ChildSpec(name="execution", kind="execution", target="m:f", group=Group.EXECUTION),
        *(
            ChildSpec(name=f"grid-{g}", kind="strategy", target="m:f", kwargs={"grid_name": g})
            for g in ("a", "b")
        ),
    ]
    fx = FakeEffects()
    sup = Supervision(specs, fx)
    sup.start()
    for _ in range(3):
        for child in sup.children.values():
            if child.state is ChildState.STARTING:
                assert child.pid is not None
                sup.on_ready(child.name, child.pid)
    sent: list[tuple[str, Pause | Resume]] = []
    actions = GridActions(sup, lambda actor, cmd: sent.append((actor, cmd)))
    heard: list[tuple[GridAction, GridActionReply]] = []
    actions.listeners.append(lambda req, rep: heard.append((req, rep)))
    return World(sup, fx, actions, sent, heard)


async def act(w: World, kind: GridActionKind, grid: str) -> GridActionReply:
    return await w.actions.act(GridAction(action=kind, grid=grid, by="test"))


@pytest.mark.parametrize(
    ("before", "kind", "grid", "outcome", "detail"),
    [
        ([], P, "zzz", UNKNOWN, "no grid 'zzz'"),
        ([], P, "execution", UNKNOWN, "no grid"),  # not a grid, whatever its name
        ([], P, "a", DONE, "pause sent"),
        ([(P, "a")], P, "a", REFUSED, "paused already"),
        ([], R, "a", REFUSED, "not paused"),
        ([(P, "a")], R, "a", DONE, "resume sent"),
        ([], S, "a", DONE, "stopping"),
        ([(S, "a")], P, "a", REFUSED, "grid a is stopping"),
        ([(S, "a")], S, "a", REFUSED, "grid a is stopping"),
    ],
)
async def test_each_action_is_checked_against_the_grid_state(
    before: list[tuple[GridActionKind, str]],
    kind: GridActionKind,
    grid: str,
    outcome: GridActionOutcome,
    detail: str,
) -> None:
    w = world()
    for k, g in before:
        assert (await act(w, k, g)).outcome is DONE
    sent_before = list(w.sent)

    reply = await act(w, kind, grid)

    assert reply.outcome is outcome
    assert detail in reply.detail
    if outcome is not DONE:
        assert w.sent == sent_before  # a refusal sends nothing
    assert w.heard[-1][1] == reply  # every action reaches the audit, refused ones too


async def test_pause_and_resume_send_their_commands_to_that_grid_only() -> None:
    w = world()

    await act(w, P, "a")
    await act(w, R, "a")

    assert [(actor, type(cmd)) for actor, cmd in w.sent] == [("grid-a", Pause), ("grid-a", Resume)]
    assert w.actions.paused == set()


async def test_stop_stops_the_grid_actor_and_an_action_on_it_then_is_refused() -> None:
    w = world()
    await act(w, S, "b")
    child = w.sup.children["grid-b"]
    assert w.fx.stops == ["grid-b"] and child.state is ChildState.STOPPING
    assert child.pid is not None
    w.sup.on_exit("grid-b", child.pid, 0)

    reply = await act(w, R, "b")

    assert child.state is ChildState.STOPPED
    assert (reply.outcome, reply.detail, reply.state) == (REFUSED, "grid b is stopped", "stopped")
    assert w.sup.children["grid-a"].state is ChildState.RUNNING  # the sibling runs on


async def test_a_grid_stopped_by_its_own_stop_loss_cannot_be_paused_but_can_be_stopped() -> None:
    w = world()
    child = w.sup.children["grid-a"]
    assert child.pid is not None
    w.sup.on_heartbeat("grid-a", child.pid, {"state": "trading", "stopped": True})

    assert (await act(w, P, "a")).outcome is REFUSED
    assert (await act(w, S, "a")).outcome is DONE


async def test_nothing_is_done_while_the_supervisor_stops() -> None:
    w = world()
    w.sup.stop()

    reply = await act(w, P, "a")

    assert reply.outcome is REFUSED and "supervisor is stopping" in reply.detail


async def test_a_paused_grid_restarted_after_a_crash_is_paused_again_when_ready() -> None:
    w = world()
    await act(w, P, "a")
    child = w.sup.children["grid-a"]
    assert child.pid is not None
    w.sup.on_exit("grid-a", child.pid, 1)  # crashed: backoff, then a new process
    w.fx.clock += 60
    w.sup.tick()
    assert child.state is ChildState.STARTING and child.pid is not None
    w.sup.on_ready("grid-a", child.pid)

    w.actions.on_ready("grid-a")

    assert [(a, type(c)) for a, c in w.sent] == [("grid-a", Pause), ("grid-a", Pause)]
    w.actions.on_ready("grid-b")  # not paused: nothing
    assert len(w.sent) == 2


@dataclass
class FailingJournal:
    """Pauses are written; erasing one fails (the database went away)."""

    written: list[str] = field(default_factory=list)

    async def paused(self, grid: str, by: str, reason: str) -> None:
        self.written.append(grid)

    async def resumed(self, grid: str) -> None:
        raise ConnectionError("database gone")


async def test_a_resume_that_cannot_be_saved_fails_and_the_grid_stays_paused() -> None:
    w = world()
    journal = FailingJournal()
    w.actions.journal = journal
    await act(w, P, "a")

    reply = await act(w, R, "a")

    assert (reply.outcome, reply.state) == (GridActionOutcome.FAILED, "paused")
    assert "database gone" in reply.detail
    assert journal.written == ["a"] and w.actions.paused == {"a"}
    assert [type(c) for _, c in w.sent] == [Pause]  # no Resume went out
    assert w.heard[-1][1] == reply  # audited


async def test_a_stopped_grid_keeps_its_pause_for_the_next_start() -> None:
    w = world()
    await act(w, P, "a")

    await act(w, S, "a")

    assert w.actions.paused == {"a"}
