"""An actor's AlertRaised crosses the real report socket to the real Supervisor, which
hands it to its alert listeners (the alerts extension)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from gridsup.messages.alerts import AlertCause, AlertRaised, AlertSeverity
from gridsup.supervisor.runner import Supervisor
from gridsup.supervisor.spec import ChildSpec, Group


class Listen:
    """A supervisor extension that only listens for alerts."""

    def __init__(self) -> None:
        self.heard: list[AlertRaised] = []
        self.supervisor: Supervisor | None = None

    async def start(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor
        supervisor.alert_listeners.append(self._heard)

    async def stop(self) -> None:
        pass

    def _heard(self, report: AlertRaised) -> None:
        self.heard.append(report)
        assert self.supervisor is not None and self.supervisor.supervision is not None
        self.supervisor.supervision.stop()


def test_an_actor_raises_an_alert_through_the_supervisor() -> None:
    base = Path(tempfile.mkdtemp(prefix="gsa-", dir="/tmp"))
    listen = Listen()
    spec = ChildSpec(
        name="raiser", kind="execution", target="alert_actor:Raiser", group=Group.EXECUTION
    )
    sup = Supervisor([spec], base=base, log_level="WARNING", extensions=[listen])
    try:
        assert asyncio.run(asyncio.wait_for(sup.run(), 60)) == 0
    finally:
        shutil.rmtree(base, ignore_errors=True)

    (report,) = listen.heard
    assert report.actor == "raiser" and report.cause is AlertCause.EXCHANGE_AUTH_REFUSED
    assert report.severity is AlertSeverity.CRITICAL and report.active
