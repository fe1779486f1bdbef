"""The dashboard as a supervisor :class:`~gridsup.supervisor.extensions.Extension`:
bound when the supervisor's sockets are, in its event loop, gone when it exits."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import web

from gridsup.web.app import Dashboard, make_app
from gridsup.web.settings import WebSettings
from gridsup.web.source import SupervisorSource
from gridsup.web.ticks import MARKET, TickBuffer, spawn_follower

if TYPE_CHECKING:
    from gridsup.supervisor.extensions import SupervisorView

log = structlog.get_logger("gridsup.web")


class WebServer:
    """Serve the dashboard on ``settings`` for the supervisor it is started with."""

    def __init__(self, settings: WebSettings, db_url: str | None = None) -> None:
        self.settings = settings
        self.db_url = db_url
        self.runner: web.AppRunner | None = None
        self.port: int | None = None
        self._db: Any = None
        self._ticks: asyncio.Task[None] | None = None

    async def start(self, supervisor: SupervisorView) -> None:
        """Bind and serve.

        Raises:
            OSError: the address cannot be bound (in use, not ours).
        """
        source = SupervisorSource(supervisor)
        run = source.run_config
        db_url = self.db_url or getattr(run, "db_url", None)
        if db_url:
            from gridsup.store.database import Database

            self._db = Database(db_url, pool_size=2)
            await self._db.connect()
        prices = TickBuffer()
        if supervisor.ctx is not None and supervisor.run_dir is not None:
            self._ticks = spawn_follower(
                prices, supervisor.ctx, supervisor.run_dir.endpoint(MARKET)
            )
        actions = supervisor.grid_actions
        dashboard = Dashboard(
            source,
            prices,
            db=self._db,
            act=None if actions is None else actions.act,
            exchange_id=str(getattr(run, "exchange_id", "paper")),
        )
        self.runner = web.AppRunner(make_app(dashboard, self.settings), access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.settings.host, self.settings.port)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.settings.port
        log.info(
            "web_started",
            url=f"http://{self.settings.host}:{self.port}/",
            loopback=self.settings.loopback,
            token=self.settings.token is not None,
        )

    async def stop(self) -> None:
        if self._ticks is not None:
            self._ticks.cancel()
            await asyncio.gather(self._ticks, return_exceptions=True)
        if self.runner is not None:
            await self.runner.cleanup()
        if self._db is not None:
            await self._db.disconnect()
        log.info("web_stopped")
