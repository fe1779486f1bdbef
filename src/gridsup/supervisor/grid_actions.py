"""Pause, resume and stop one grid: the checks, the command to its actor, the audit.

``gridsup pause|resume|stop-grid GRID`` and the web dashboard send a
:class:`~gridsup.messages.control.GridAction` to the control endpoint; the runner hands it
to :meth:`GridActions.act`, which answers with the same outcome to both (the CLI's exit
code and the web's HTTP status follow from it). Every action that reaches the supervisor
is passed to the listeners (the audit log) with its outcome, refused ones included.

A pause is kept here as well as in the actor: a paused grid's actor that is restarted
(a crash) is paused again as soon as it is Ready.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import structlog

from gridsup.messages.control import (
    GridAction,
    GridActionKind,
    GridActionOutcome,
    GridActionReply,
    Pause,
    Resume,
)
from gridsup.supervisor.child import Child
from gridsup.supervisor.states import ChildState, SupervisorState

log = structlog.get_logger("gridsup.supervisor")

KIND_STRATEGY = "strategy"  # the ChildSpec kind of a grid's actor (gridsup.app)

ActionListener = Callable[[GridAction, GridActionReply], None]


class Supervised(Protocol):
    """What :class:`GridActions` needs of :class:`~gridsup.supervisor.supervision.Supervision`."""

    state: SupervisorState
    children: dict[str, Child]

    def changed(self) -> None: ...


def grid_children(sup: Supervised) -> dict[str, Child]:
    """Grid name -> the child that runs it."""
    out: dict[str, Child] = {}
    for child in sup.children.values():
        if child.spec.kind == KIND_STRATEGY:
            out[str(child.spec.kwargs.get("grid_name", child.name))] = child
    return out


class GridActions:
    """The supervisor's side of grid actions; ``send`` puts a command on the actor's
    command topic (the runner's PUB socket)."""

    def __init__(self, sup: Supervised, send: Callable[[str, Pause | Resume], None]) -> None:
        self.sup = sup
        self.send = send
        self.paused: set[str] = set()  # grid names paused on request
        self.listeners: list[ActionListener] = []

    def act(self, request: GridAction) -> GridActionReply:
        """Check ``request`` against the grid's state and carry it out.

        Never raises for a bad request: the reply's outcome says what was wrong.
        """
        reply = self._act(request)
        log.info(
            "grid_action_answered",
            action=request.action.value,
            grid=request.grid,
            by=request.by,
            outcome=reply.outcome.value,
            detail=reply.detail,
        )
        for listener in self.listeners:
            try:
                listener(request, reply)
            except Exception as exc:  # an audit that fails must not fail the action
                log.error("grid_action_listener_failed", error=repr(exc))
        return reply

    def _act(self, request: GridAction) -> GridActionReply:
        action, grid = request.action, request.grid
        child = grid_children(self.sup).get(grid)

        def answer(outcome: GridActionOutcome, detail: str, state: str | None) -> GridActionReply:
            return GridActionReply(
                action=action, grid=grid, outcome=outcome, detail=detail, state=state
            )

        if child is None:
            return answer(GridActionOutcome.UNKNOWN_GRID, f"no grid {grid!r} in this run", None)
        state = grid_state(child, grid in self.paused)
        refused = self._refusal(action, grid, child, state)
        if refused is not None:
            return answer(GridActionOutcome.REFUSED, refused, state)
        match action:
            case GridActionKind.PAUSE:
                self.paused.add(grid)
                self.send(child.name, Pause(reason=f"by {request.by}"))
                return answer(GridActionOutcome.DONE, "pause sent", "paused")
            case GridActionKind.RESUME:
                self.paused.discard(grid)
                self.send(child.name, Resume(reason=f"by {request.by}"))
                return answer(GridActionOutcome.DONE, "resume sent", "trading")
            case GridActionKind.STOP:
                self.paused.discard(grid)
                child.stop(cancel_orders=False)
                self.sup.changed()
                return answer(GridActionOutcome.DONE, "stopping (orders stay)", "stopping")

    def _refusal(self, action: GridActionKind, grid: str, child: Child, state: str) -> str | None:
        """Why ``action`` does not apply to the grid now, or None."""
        if self.sup.state in (SupervisorState.STOPPING, SupervisorState.STOPPED):
            return "the supervisor is stopping"
        if child.state is not ChildState.RUNNING:
            return f"grid {grid} is {child.state.value}"
        if child.status.get("stopped"):
            # Its stop-loss/take-profit fired: nothing left to pause or resume.
            return f"grid {grid} is stopped" if action is not GridActionKind.STOP else None
        if action is GridActionKind.PAUSE and state == "paused":
            return f"grid {grid} is paused already"
        if action is GridActionKind.RESUME and state != "paused":
            return f"grid {grid} is not paused"
        return None

    def on_ready(self, name: str) -> None:
        """A child is Ready: a grid paused on request is paused again after a restart."""
        child = self.sup.children.get(name)
        if child is None or child.spec.kind != KIND_STRATEGY:
            return
        grid = str(child.spec.kwargs.get("grid_name", name))
        if grid in self.paused:
            log.info("grid_pause_restored", grid=grid)
            self.send(name, Pause(reason="restored after restart"))


def grid_state(child: Child, paused: bool) -> str:
    """A grid's state as one word: the actor's while it is not running, else the grid's
    own (trading, reconciling, stopped ...), ``paused`` when a pause was asked for."""
    if child.state is not ChildState.RUNNING:
        return child.state.value
    if child.status.get("stopped"):
        return "stopped"
    if paused:
        return "paused"
    return str(child.status.get("state") or child.state.value)
