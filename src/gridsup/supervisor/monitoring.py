"""Builds the supervisor's monitoring extensions (metrics endpoint, alerts) for a run."""

from __future__ import annotations

import socket
from pathlib import Path

from gridsup.monitoring import AlertSettings
from gridsup.supervisor.alert_rules import AlertLimits, AlertRules, AlertsExtension
from gridsup.supervisor.alert_sender import AppriseSender, alert_urls
from gridsup.supervisor.alerts import AlertCenter
from gridsup.supervisor.extensions import SupervisorExtension
from gridsup.supervisor.metrics.server import MetricsServer


def monitoring_extensions(
    *,
    exchange: str,
    alerts: AlertSettings,
    metrics: tuple[str, int] | None,
    mismatch_threshold: int,
    disk_path: Path,
) -> list[SupervisorExtension]:
    """Alerts always (to the log; and through apprise when URLs are set), metrics when
    an address is given.

    Raises:
        AlertConfigError: the alert URLs cannot be read or one is not valid.
    """
    urls = alert_urls()
    sender = AppriseSender(urls, alerts.send_timeout_s) if urls else None
    center = AlertCenter(sender, alerts.window_s, host=socket.gethostname())
    limits = AlertLimits(
        window_s=alerts.window_s,
        restarts=alerts.restarts,
        restart_period_s=alerts.restart_period_s,
        mismatch_threshold=mismatch_threshold,
        disk_min_free_pct=alerts.disk_min_free_pct,
        memory_min_free_pct=alerts.memory_min_free_pct,
    )
    out: list[SupervisorExtension] = [
        AlertsExtension(center, AlertRules(limits, exchange), sender, disk_path)
    ]
    if metrics is not None:
        host, port = metrics
        out.insert(0, MetricsServer(host, port, exchange, center))
    return out
