"""The supervisor's ``/metrics`` endpoint (aiohttp, in the supervisor's own event loop).

Off unless an address is given (``[metrics] address`` in grids.toml, or ``gridsup start
--metrics``); see :func:`gridsup.monitoring.metrics_address` for what is accepted. Each
scrape runs :class:`~gridsup.supervisor.metrics.collector.SupervisorCollector` over the latest
status, on the loop, so it sees one consistent state and needs no lock.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import structlog
from aiohttp import web
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from gridsup.supervisor.metrics.collector import SupervisorCollector, SupervisorSnapshot

if TYPE_CHECKING:
    from gridsup.supervisor.alerts import AlertCenter
    from gridsup.supervisor.extensions import SupervisorView

log = structlog.get_logger("gridsup.supervisor")


def supervisor_snapshot(
    supervisor: SupervisorView, alerts: AlertCenter | None = None
) -> SupervisorSnapshot:
    """The supervisor's latest status (empty before its supervision exists)."""
    sup = supervisor.supervision
    started = supervisor.started_at
    return SupervisorSnapshot(
        pid=os.getpid(),
        uptime=0.0 if started is None else time.monotonic() - started,
        state="starting" if sup is None else sup.state.value,
        actors=() if sup is None else sup.status(),
        frames_dropped=supervisor.frames_dropped,
        alerts_sent={} if alerts is None else alerts.sent_by_cause(),
        alerts_suppressed=0 if alerts is None else alerts.suppressed,
    )


class MetricsServer:
    """A :class:`~gridsup.supervisor.extensions.SupervisorExtension` serving
    ``GET /metrics`` on ``host:port`` (port 0: any free port, see :attr:`port`)."""

    def __init__(
        self, host: str, port: int, exchange: str, alerts: AlertCenter | None = None
    ) -> None:
        self.host, self.port = host, port
        self.exchange = exchange
        self.alerts = alerts
        self.registry = CollectorRegistry(auto_describe=False)
        self.collector: SupervisorCollector | None = None
        self._runner: web.AppRunner | None = None

    async def start(self, supervisor: SupervisorView) -> None:
        """Bind and serve.

        Raises:
            OSError: the address cannot be bound (in use, not local).
        """
        self.collector = SupervisorCollector(
            lambda: supervisor_snapshot(supervisor, self.alerts), self.exchange
        )
        self.registry.register(self.collector)
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/", self._index)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            self._runner = None
            raise
        server = site._server  # the bound port, when 0 was asked for
        sockets = getattr(server, "sockets", None) or ()
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        log.info("metrics_serving", url=f"http://{self._netloc()}/metrics")

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.collector is not None:
            self.registry.unregister(self.collector)
            self.collector = None

    def _netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _index(self, request: web.Request) -> web.Response:
        return web.Response(text="gridsup metrics: /metrics\n")
