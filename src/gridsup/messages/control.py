"""Control channel: actors <-> supervisor, and ``gridsup status|stop`` -> supervisor.

Three sockets (protocol constants in :mod:`gridsup.runtime.endpoints`):

* reports, PUSH (every actor) -> PULL (supervisor): :data:`ActorReport` (an actor's
  :class:`~gridsup.messages.alerts.AlertRaised` too);
* commands, PUB (supervisor, topic = actor name + NUL, or ``*`` + NUL for all) -> SUB
  (every actor): :data:`SupervisorCommand` — ``Stop`` and the supervisor's own
  ``Heartbeat``, whose silence tells an actor that its supervisor is gone;
* control, REQ (cli) -> ROUTER (supervisor): :data:`ControlRequest` in,
  :data:`ControlReply` back.

Grid actions (``gridsup pause|resume|stop-grid GRID`` and the web dashboard) are a
:class:`GridAction` request answered by a :class:`GridActionReply`; the supervisor turns
a pause or resume into a :class:`Pause` or :class:`Resume` command to the grid's actor,
and a stop into that actor's ``Stop``.
"""

from __future__ import annotations

import enum

import msgspec

from gridsup.messages.alerts import AlertRaised
from gridsup.messages.codec import Codec

# What an actor may report about itself in a heartbeat: flat scalars only, so that
# `gridsup status --json` can print it as is.
StatusValue = str | int | float | bool | None


class Ready(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """The actor's sockets are open and its ``on_start`` has completed."""

    actor: str
    pid: int


class Heartbeat(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """I am alive. ``seq`` counts heartbeats of this process; ``status`` is whatever the
    actor reports about itself (counters, mode, last tick age ...)."""

    actor: str
    pid: int
    seq: int = 0
    status: dict[str, StatusValue] = msgspec.field(default_factory=dict)


class Failed(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """The actor gives up (an unrecoverable error) and is about to exit non-zero."""

    actor: str
    pid: int
    reason: str


class Stop(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Stop cleanly. ``cancel_orders`` asks trading actors to cancel their open orders
    first (``gridsup stop --cancel-orders``); by default orders stay on the exchange."""

    cancel_orders: bool = False


class Pause(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Stop placing new orders; keep the open ones on the exchange (a grid actor)."""

    reason: str = ""


class Resume(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Reconcile with the exchange, then trade again (a paused grid actor)."""

    reason: str = ""


class StatusQuery(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Ask the supervisor for the state of every actor."""


class StopRequest(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Ask the supervisor to stop every actor in reverse start order, then itself."""

    cancel_orders: bool = False


class ActorStatus(msgspec.Struct, frozen=True, kw_only=True):
    """One row of ``gridsup status``."""

    name: str
    kind: str
    state: str
    pid: int | None = None
    uptime: float | None = None  # seconds since the current process reported Ready
    restarts: int = 0
    last_heartbeat_age: float | None = None  # seconds
    status: dict[str, StatusValue] = msgspec.field(default_factory=dict)


class StatusReply(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """The supervisor's answer to :class:`StatusQuery`."""

    supervisor_pid: int
    uptime: float
    state: str
    actors: tuple[ActorStatus, ...] = ()


class StopAccepted(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """The supervisor has begun stopping; it exits when every actor has stopped."""

    supervisor_pid: int


class GridActionKind(enum.Enum):
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"


class GridActionOutcome(enum.Enum):
    """What became of a :class:`GridAction`; the CLI's exit code and the web's HTTP
    status follow from it (:data:`EXIT_CODES`)."""

    DONE = "done"  # the command went out to the grid's actor
    UNKNOWN_GRID = "unknown_grid"  # no such grid in this run
    REFUSED = "refused"  # the grid is not in a state the action applies to
    FAILED = "failed"  # the pause (or resume) could not be saved: nothing changed


class GridAction(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Ask the supervisor to pause, resume or stop one grid. ``by`` names who asks (a
    token id, ``loopback``, ``cli``), for the audit line."""

    action: GridActionKind
    grid: str
    by: str = "cli"


class GridActionReply(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """The supervisor's answer to :class:`GridAction`: the outcome and why."""

    action: GridActionKind
    grid: str
    outcome: GridActionOutcome
    detail: str = ""
    state: str | None = None  # the grid's state as the supervisor saw it


ActorReport = Ready | Heartbeat | Failed | AlertRaised
SupervisorCommand = Stop | Heartbeat | Pause | Resume
ControlRequest = StatusQuery | StopRequest | GridAction
ControlReply = StatusReply | StopAccepted | GridActionReply

REPORT_CODEC: Codec[ActorReport] = Codec("report", ActorReport)
COMMAND_CODEC: Codec[SupervisorCommand] = Codec("command", SupervisorCommand)
CONTROL_REQUEST_CODEC: Codec[ControlRequest] = Codec("control_request", ControlRequest)
CONTROL_REPLY_CODEC: Codec[ControlReply] = Codec("control_reply", ControlReply)
