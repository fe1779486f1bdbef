"""What the supervisor runs beside its children: the metrics endpoint, the alerts, the web
dashboard.

An extension starts once the supervisor's sockets are open and its children are being
started, and stops (in reverse order) when the supervisor stops. It reads the supervisor's
state through the :class:`~gridsup.supervisor.runner.Supervisor` it is given (its
supervision, grid actions, run directory and ZeroMQ context) and must never block the
supervisor's event loop (slow work goes to a thread).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import structlog
import zmq

from gridsup.messages.control import COMMAND_CODEC, Pause, Resume
from gridsup.runtime import endpoints

if TYPE_CHECKING:
    from gridsup.supervisor.runner import Supervisor

log = structlog.get_logger("gridsup.supervisor")


class SupervisorExtension(Protocol):
    async def start(self, supervisor: Supervisor) -> None:
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
