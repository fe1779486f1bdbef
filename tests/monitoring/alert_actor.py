"""A test actor that raises an alert once it runs (imported by its child process)."""

from __future__ import annotations

from gridsup.messages.alerts import AlertCause, AlertSeverity
from gridsup.runtime.actor import Actor


class Raiser(Actor):
    async def on_start(self) -> None:
        self.raise_alert(
            AlertCause.EXCHANGE_AUTH_REFUSED, "binance", "key refused", AlertSeverity.CRITICAL
        )
