"""What the supervisor runs beside its children: the metrics endpoint, the alerts, the web
dashboard.

An extension starts once the supervisor's sockets are open and its children are being
started, and stops (in reverse order) when the supervisor stops. It reads the supervisor's
state through the :class:`SupervisorView` it is given (its supervision, grid actions, run
directory and ZeroMQ context) and must never block the supervisor's event loop (slow work
goes to a thread). The view is a Protocol, so that this module (which the runner imports)
never names the runner: :class:`~gridsup.supervisor.runner.Supervisor` is the real one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

import structlog
import zmq

from gridsup.messages.control import COMMAND_CODEC, Pause, Resume
from gridsup.runtime import endpoints

if TYPE_CHECKING:
    import zmq.asyncio

    from gridsup.messages.alerts import AlertRaised
    from gridsup.supervisor.grid_actions import GridActions
    from gridsup.supervisor.spec import ChildSpec
    from gridsup.supervisor.supervision import Supervision

log = structlog.get_logger("gridsup.supervisor")


class SupervisorView(Protocol):
    """What an extension reads of the running supervisor (None until the run has begun)."""

    @property
    def specs(self) -> Sequence[ChildSpec]:
        """The children it runs."""
        ...

    @property
    def supervision(self) -> Supervision | None:
        """The children's states and restarts."""
        ...

    @property
    def grid_actions(self) -> GridActions | None:
        """Pause, resume and stop of single grids."""
        ...

    @property
    def alert_listeners(self) -> list[Callable[[AlertRaised], None]]:
        """Called with every AlertRaised an actor reports; an extension appends to it."""
        ...

    @property
    def started_at(self) -> float | None:
        """When its run began (``time.monotonic``)."""
        ...

    @property
    def frames_dropped(self) -> int:
        """Undecodable frames it dropped so far."""
        ...

    @property
    def run_dir(self) -> endpoints.RunDir | None:
        """The run directory of its sockets."""
        ...

    @property
    def ctx(self) -> zmq.asyncio.Context | None:
        """Its ZeroMQ context (to open a socket to the actors)."""
        ...


class SupervisorExtension(Protocol):
    async def start(self, supervisor: SupervisorView) -> None:
        """Begin (bind a port, start a worker).

        Raises:
            OSError: a resource it needs cannot be had (a port in use); the supervisor
                then stops its children and exits.
        """
        ...

    async def stop(self) -> None:
        """End; called once, also after a failed start of a later extension."""
        ...


Extension = SupervisorExtension


def command_sender(pub: zmq.Socket[bytes]) -> Callable[[str, Pause | Resume], None]:
    """Send a command to one actor on the supervisor's command PUB socket."""

    def send(actor: str, command: Pause | Resume) -> None:
        frame = COMMAND_CODEC.encode(command)
        try:
            pub.send_multipart([endpoints.command_topic(actor), frame], zmq.NOBLOCK)
        except zmq.Again:
            log.warning("command_not_sent", actor=actor, command=type(command).__name__)

    return send
