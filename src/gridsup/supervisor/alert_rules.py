"""Which alert conditions hold, judged from the supervisor's status of its children, and
the extension that feeds them (and the actors' own :class:`AlertRaised`) to an
:class:`~gridsup.supervisor.alerts.AlertCenter`.

:class:`AlertRules` is pure: given the children's statuses, the host's free disk and
memory and the time, it returns the set of conditions that hold now. The extension
raises what is new and clears what is gone, every ``interval_s`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
import structlog

from gridsup.messages import telemetry
from gridsup.messages.alerts import AlertCause, AlertRaised, AlertSeverity
from gridsup.messages.control import ActorStatus
from gridsup.supervisor.alert_sender import AppriseSender
from gridsup.supervisor.alerts import AlertCenter

if TYPE_CHECKING:
    from gridsup.supervisor.extensions import SupervisorView

log = structlog.get_logger("gridsup.supervisor.alerts")

WARNING, CRITICAL = AlertSeverity.WARNING, AlertSeverity.CRITICAL


@dataclass(frozen=True, slots=True)
class Condition:
    cause: AlertCause
    subject: str
    detail: str = ""
    severity: AlertSeverity = WARNING


@dataclass(frozen=True, slots=True)
class AlertLimits:
    """Thresholds (from ``[alerts]`` in grids.toml; none of them is a secret)."""

    window_s: float = 900.0  # one message per cause per window
    restarts: int = 3  # more than this many restarts ...
    restart_period_s: float = 600.0  # ... within this period: actor_restarting
    mismatch_threshold: int = 0  # reconciliation mismatches tolerated (the run's)
    disk_min_free_pct: float = 5.0
    memory_min_free_pct: float = 5.0
    rate_limited_hold_s: float = 300.0  # a 429 keeps the condition this long


@dataclass(frozen=True, slots=True)
class HostFree:
    """Free disk (where the database lives) and memory, in percent."""

    disk_pct: float | None
    memory_pct: float | None


def host_free(path: Path) -> HostFree:
    disk: float | None
    try:
        disk = 100.0 - psutil.disk_usage(str(path)).percent
    except OSError:
        disk = None
    vm = psutil.virtual_memory()
    return HostFree(disk, 100.0 * vm.available / vm.total if vm.total else None)


class AlertRules:
    """Conditions from statuses; keeps what it needs across passes (restart times,
    the last 429/418 counts)."""

    def __init__(self, limits: AlertLimits, exchange: str) -> None:
        self.limits = limits
        self.exchange = exchange
        self._restarts: dict[str, tuple[int, deque[float]]] = {}
        self._http: dict[str, tuple[float, float]] = {}  # key -> (last count, last rise)

    def judge(self, actors: Iterable[ActorStatus], free: HostFree, now: float) -> set[Condition]:
        out: set[Condition] = set()
        for a in actors:
            out.update(self._actor(a, now))
            if a.kind == "strategy":
                out.update(self._grid(a))
            elif a.kind == "execution":
                out.update(self._account(a, now))
            elif a.kind == "persistence" and a.status.get("db_failing") is True:
                out.add(
                    Condition(AlertCause.DATABASE_UNREACHABLE, a.name, "commits fail", CRITICAL)
                )
        lim = self.limits
        if free.disk_pct is not None and free.disk_pct < lim.disk_min_free_pct:
            out.add(Condition(AlertCause.DISK_LOW, "disk", f"{free.disk_pct:.1f}% free", CRITICAL))
        if free.memory_pct is not None and free.memory_pct < lim.memory_min_free_pct:
            out.add(Condition(AlertCause.MEMORY_LOW, "memory", f"{free.memory_pct:.1f}% free"))
        return out

    def _actor(self, a: ActorStatus, now: float) -> Iterable[Condition]:
        if a.state == "failed":
            yield Condition(AlertCause.ACTOR_FAILED, a.name, f"{a.kind}, given up", CRITICAL)
        seen, times = self._restarts.get(a.name, (0, deque()))
        for _ in range(max(0, a.restarts - seen)):
            times.append(now)
        while times and now - times[0] > self.limits.restart_period_s:
            times.popleft()
        self._restarts[a.name] = (a.restarts, times)
        if len(times) > self.limits.restarts:
            period = self.limits.restart_period_s / 60
            yield Condition(
                AlertCause.ACTOR_RESTARTING, a.name, f"{len(times)} restarts in {period:g} min"
            )

    def _grid(self, a: ActorStatus) -> Iterable[Condition]:
        s = a.status
        grid = str(s.get("grid") or a.name)
        reason = s.get("stop_reason")
        if reason == "stop_loss":
            yield Condition(AlertCause.STOP_LOSS_HIT, grid, f"{s.get('symbol')}", CRITICAL)
        elif reason == "take_profit":
            yield Condition(AlertCause.TAKE_PROFIT_HIT, grid, f"{s.get('symbol')}")
        elif s.get("stopped") is True or s.get("state") == "aborted":
            why = "reconciliation abort" if s.get("recon_aborted") else str(reason or "stopped")
            yield Condition(AlertCause.GRID_STOPPED, grid, why, CRITICAL)
        skipped = s.get("skipped_levels")
        if isinstance(skipped, int) and skipped > 0:
            yield Condition(AlertCause.SLOT_GIVEN_UP, grid, f"{skipped} level(s) refused")
        mismatches = s.get("recon_mismatches")
        if isinstance(mismatches, int) and mismatches > self.limits.mismatch_threshold:
            yield Condition(
                AlertCause.RECONCILIATION_MISMATCH,
                grid,
                f"{mismatches} order(s) unexplained",
                CRITICAL if s.get("recon_aborted") else WARNING,
            )

    def _account(self, a: ActorStatus, now: float) -> Iterable[Condition]:
        s, account = a.status, self.exchange
        if s.get(telemetry.EXCHANGE_REACHABLE) is False:
            yield Condition(AlertCause.EXCHANGE_UNREACHABLE, account, "requests fail", CRITICAL)
        if s.get(telemetry.AUTH_REFUSED) is True:
            yield Condition(AlertCause.EXCHANGE_AUTH_REFUSED, account, "key refused", CRITICAL)
        banned = s.get(telemetry.BANNED_UNTIL_MS)
        if self._rose(f"{a.name}:418", s.get(telemetry.HTTP_418), now) or (
            isinstance(banned, int | float) and banned > time.time() * 1000
        ):
            yield Condition(AlertCause.EXCHANGE_BANNED, account, "HTTP 418", CRITICAL)
        if self._rose(f"{a.name}:429", s.get(telemetry.HTTP_429), now):
            yield Condition(AlertCause.EXCHANGE_RATE_LIMITED, account, "HTTP 429")

    def _rose(self, key: str, value: object, now: float) -> bool:
        """A counter rose within the hold time."""
        if not isinstance(value, int | float) or isinstance(value, bool):
            return False
        last, rise = self._http.get(key, (0.0, -1e18))
        if value > last:
            rise = now
        self._http[key] = (float(value), rise)
        return now - rise < self.limits.rate_limited_hold_s


class AlertsExtension:
    """Judges the rules every ``interval_s`` and relays the actors' AlertRaised; a
    :class:`~gridsup.supervisor.extensions.SupervisorExtension`."""

    def __init__(
        self,
        center: AlertCenter,
        rules: AlertRules,
        sender: AppriseSender | None,
        disk_path: Path,
        interval_s: float = 2.0,
    ) -> None:
        self.center, self.rules, self.sender = center, rules, sender
        self.disk_path = disk_path
        self.interval_s = interval_s
        self._held: set[Condition] = set()
        self._task: asyncio.Task[None] | None = None

    async def start(self, supervisor: SupervisorView) -> None:
        if self.sender is not None:
            self.sender.start()
            log.info("alerts_enabled", urls=self.sender.count)  # how many, never which
        supervisor.alert_listeners.append(self.on_report)
        self._task = asyncio.get_running_loop().create_task(self._loop(supervisor))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.sender is not None:
            # The last messages (a grid stopped on the way out) get a moment, off the loop.
            await asyncio.get_running_loop().run_in_executor(None, self.sender.stop)

    def on_report(self, report: AlertRaised) -> None:
        subject = report.subject or report.actor
        if report.active:
            self.center.raise_(report.cause, subject, report.detail, report.severity)
        else:
            self.center.clear(report.cause, subject)

    def evaluate(self, actors: Iterable[ActorStatus], now: float) -> None:
        """One pass: raise the new conditions, clear the gone ones, send what waited."""
        held = self.rules.judge(actors, host_free(self.disk_path), now)
        for c in held - self._held:
            self.center.raise_(c.cause, c.subject, c.detail, c.severity)
        gone = {(c.cause, c.subject) for c in self._held} - {(c.cause, c.subject) for c in held}
        for cause, subject in gone:
            self.center.clear(cause, subject)
        self._held = held
        self.center.tick()

    async def _loop(self, supervisor: SupervisorView) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            sup = supervisor.supervision
            if sup is not None:
                try:
                    self.evaluate(sup.status(), time.monotonic())
                except Exception as exc:  # alerts must never take the supervisor down
                    log.error("alert_rules_failed", error=repr(exc))
