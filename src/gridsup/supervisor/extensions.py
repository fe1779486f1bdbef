"""What the supervisor runs beside its children: the metrics endpoint, the alerts.

An extension starts once the supervisor's sockets are open and its children are being
started, and stops (in reverse order) when the supervisor stops. It reads the supervisor's
state through the :class:`~gridsup.supervisor.runner.Supervisor` it is given and must never
block the supervisor's event loop (slow work goes to a thread).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from gridsup.supervisor.runner import Supervisor


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
