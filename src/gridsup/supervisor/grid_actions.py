"""Pause, resume and stop one grid: the checks, the command to its actor, the audit.

``gridsup pause|resume|stop-grid GRID`` and the web dashboard send a
:class:`~gridsup.messages.control.GridAction` to the control endpoint; the runner hands it
to :meth:`GridActions.act`, which answers with the same outcome to both (the CLI's exit
code and the web's HTTP status follow from it). Every action that reaches the supervisor
is passed to the listeners (the audit log) with its outcome, refused ones included.

A pause outlives restarts: it is written to the database (the :class:`PauseJournal`,
``supervisor/pauses.py`` over ``store/pauses.py``) before the actor is told, and a resume
is erased there first; a write that fails fails the action (outcome ``failed``) with
nothing changed. A starting strategy actor reads its grid's pause with its state and
starts paused, so it sends no order before it is resumed, after a crash of its own or a
restart of the supervisor. The supervisor keeps the paused grids here as well (loaded
from the database at its start) for its status and checks, and pauses a paused grid's
actor again once it is Ready, in case its start read the database just before the pause
was written.
"""

from __future__ import annotations

import asyncio
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


class PauseJournal(Protocol):
    """Where pauses are kept across restarts (the database)."""

    async def paused(self, grid: str, by: str, reason: str) -> None:
        """Record ``grid`` (a grid name) as paused.

        Raises:
            Exception: the record was not written (the database did not answer ...).
        """
        ...

    async def resumed(self, grid: str) -> None:
        """Erase ``grid``'s pause.

        Raises:
            Exception: the pause was not erased.
        """
        ...


class GridActions:
    """The supervisor's side of grid actions; ``send`` puts a command on the actor's
    command topic (the runner's PUB socket). Without a ``journal`` (set by the pauses
    extension) a pause lasts as long as this supervisor."""

    def __init__(self, sup: Supervised, send: Callable[[str, Pause | Resume], None]) -> None:
        self.sup = sup
        self.send = send
        self.paused: set[str] = set()  # grid names paused on request
        self.listeners: list[ActionListener] = []
        self.journal: PauseJournal | None = None
        # One action at a time: two pauses of one grid (the web and the CLI at once)
        # must not both pass the checks while the first is being written.
        self._lock = asyncio.Lock()

    async def act(self, request: GridAction) -> GridActionReply:
        """Check ``request`` against the grid's state and carry it out; a pause or resume
        is durable (see :class:`PauseJournal`) before the actor is told and the reply sent.

        Never raises for a bad request or a failed write: the reply's outcome says what
        was wrong.
        """
        async with self._lock:
            reply = await self._act(request)
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

    async def _act(self, request: GridAction) -> GridActionReply:
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
                reason = f"by {request.by}"
                failure = await self._write(grid, pause=True, by=request.by, reason=reason)
                if failure is not None:
                    return answer(GridActionOutcome.FAILED, f"pause not saved: {failure}", state)
                self.paused.add(grid)
                self.send(child.name, Pause(reason=reason))
                return answer(GridActionOutcome.DONE, "pause sent", "paused")
            case GridActionKind.RESUME:
                failure = await self._write(grid, pause=False, by=request.by, reason="")
                if failure is not None:
                    return answer(GridActionOutcome.FAILED, f"resume not saved: {failure}", state)
                self.paused.discard(grid)
                self.send(child.name, Resume(reason=f"by {request.by}"))
                return answer(GridActionOutcome.DONE, "resume sent", "trading")
            case GridActionKind.STOP:
                # A pause stays: the grid starts paused at the next `gridsup start`.
                child.stop(cancel_orders=False)
                self.sup.changed()
                return answer(GridActionOutcome.DONE, "stopping (orders stay)", "stopping")

    async def _write(self, grid: str, *, pause: bool, by: str, reason: str) -> str | None:
        """Make the pause (or its end) durable; None when done, else why not."""
        if self.journal is None:
            return None
        try:
            if pause:
                await self.journal.paused(grid, by, reason)
            else:
                await self.journal.resumed(grid)
        except Exception as exc:  # the database: the action fails, nothing changed
            log.error("grid_pause_not_saved", grid=grid, pause=pause, error=repr(exc))
            return repr(exc)
        return None

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
