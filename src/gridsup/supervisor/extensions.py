"""Extensions: services that live in the supervisor's process and event loop (the web
dashboard), started once its sockets are bound and stopped on its way out.

An extension sees the :class:`~gridsup.supervisor.runner.Supervisor` (its supervision,
its grid actions, its run directory and ZeroMQ context) and never blocks the loop: the
supervisor's heartbeats and its children's reports share it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import structlog
import zmq

from gridsup.actors import endpoints
from gridsup.messages.control import COMMAND_CODEC, Pause, Resume

if TYPE_CHECKING:
    from gridsup.supervisor.runner import Supervisor

log = structlog.get_logger("gridsup.supervisor")


class Extension(Protocol):
    async def start(self, supervisor: Supervisor) -> None:
        """Begin serving. Raises whatever makes starting impossible (the supervisor then
        exits, as when a socket cannot be bound)."""

    async def stop(self) -> None:
        """Stop serving; called once, also after a failed run."""


def command_sender(pub: zmq.Socket[bytes]) -> Callable[[str, Pause | Resume], None]:
    """Send a command to one actor on the supervisor's command PUB socket."""

    def send(actor: str, command: Pause | Resume) -> None:
        frame = COMMAND_CODEC.encode(command)
        try:
            pub.send_multipart([endpoints.command_topic(actor), frame], zmq.NOBLOCK)
        except zmq.Again:
            log.warning("command_not_sent", actor=actor, command=type(command).__name__)

    return send
