"""The collector: at scrape time, the supervisor's latest status as metric families.

Families of the supervisor, of every actor's process, of the persistence and market-data
actors and of the streams are made here; those of the grids and the exchange account are in
:mod:`~gridsup.supervisor.metrics.trading`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import psutil
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from gridsup.messages import telemetry
from gridsup.messages.control import ActorStatus
from gridsup.supervisor.metrics.trading import account_families, grid_families
from gridsup.supervisor.metrics.values import (
    KIND_EXECUTION,
    KIND_MARKET_DATA,
    KIND_PERSISTENCE,
    KIND_STRATEGY,
    number,
)

_MARKET_AGE_PREFIX = "age:"  # the market-data actor's age of a symbol's last tick
# Queue-like status fields by actor kind: status key -> the ``queue`` label.
_QUEUES: dict[str, dict[str, str]] = {
    KIND_STRATEGY: {"events_queued": "events", "requests_pending": "requests"},
    KIND_PERSISTENCE: {"queued": "writes", "committing": "committing"},
    KIND_EXECUTION: {"outbox": "outbox", "pending_store_acks": "store_acks"},
}


@dataclass(frozen=True, slots=True)
class SupervisorSnapshot:
    """What the collector reads: the supervisor's latest status, taken at scrape time."""

    pid: int
    uptime: float
    state: str
    actors: tuple[ActorStatus, ...]
    frames_dropped: int = 0
    alerts_sent: Mapping[str, int] = field(default_factory=dict)  # cause -> messages sent
    alerts_suppressed: int = 0


class _Memory:
    """Resident memory of actor processes, read at scrape time (psutil handles cached
    per pid, so a scrape of 100 actors reads 100 small /proc files)."""

    def __init__(self) -> None:
        self._procs: dict[int, psutil.Process] = {}

    def rss(self, pids: list[int]) -> dict[int, int]:
        live = set(pids)
        for pid in list(self._procs):
            if pid not in live:
                del self._procs[pid]
        out: dict[int, int] = {}
        for pid in pids:
            try:
                proc = self._procs.get(pid) or self._procs.setdefault(pid, psutil.Process(pid))
                out[pid] = proc.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                self._procs.pop(pid, None)
        return out


class SupervisorCollector(Collector):
    """A prometheus-client collector over ``view()`` (see the module docstring).

    ``exchange`` labels the account metrics (the run's exchange id).
    """

    def __init__(self, view: Callable[[], SupervisorSnapshot], exchange: str) -> None:
        self.view = view
        self.exchange = exchange
        self._memory = _Memory()
        self.last_duration_s = 0.0

    def describe(self) -> list[Metric]:
        # Nothing to describe up front: registering must not run a collection.
        return []

    def collect(self) -> Iterator[Metric]:
        began = time.perf_counter()
        view = self.view()
        yield from self._supervisor(view)
        yield from self._actors(view)
        yield from grid_families([a for a in view.actors if a.kind == KIND_STRATEGY])
        yield from account_families(
            [a for a in view.actors if a.kind == KIND_EXECUTION], self.exchange
        )
        yield from self._streams(view.actors)
        yield from self._persistence([a for a in view.actors if a.kind == KIND_PERSISTENCE])
        yield from self._market([a for a in view.actors if a.kind == KIND_MARKET_DATA])
        duration = GaugeMetricFamily(
            "gridsup_metrics_collect_seconds",
            "Time the previous scrape took to collect these metrics.",
        )
        duration.add_metric([], self.last_duration_s)
        yield duration
        self.last_duration_s = time.perf_counter() - began

    # -- the supervisor ---------------------------------------------------------------------

    def _supervisor(self, view: SupervisorSnapshot) -> Iterator[Metric]:
        up = GaugeMetricFamily("gridsup_supervisor_up", "1 while the supervisor answers.")
        up.add_metric([], 1)
        uptime = GaugeMetricFamily(
            "gridsup_supervisor_uptime_seconds", "Seconds since the supervisor started."
        )
        uptime.add_metric([], view.uptime)
        state = GaugeMetricFamily(
            "gridsup_supervisor_state", "1 for the supervisor's current state.", labels=["state"]
        )
        state.add_metric([view.state], 1)
        dropped = CounterMetricFamily(
            "gridsup_supervisor_frames_dropped", "Undecodable frames dropped by the supervisor."
        )
        dropped.add_metric([], view.frames_dropped)
        alerts = CounterMetricFamily(
            "gridsup_alerts_sent", "Alert messages sent, by cause.", labels=["cause"]
        )
        for cause, count in sorted(view.alerts_sent.items()):
            alerts.add_metric([cause], count)
        suppressed = CounterMetricFamily(
            "gridsup_alerts_suppressed",
            "Alert notices not sent: repeats within the window, or a full queue.",
        )
        suppressed.add_metric([], view.alerts_suppressed)
        yield from (up, uptime, state, dropped, alerts, suppressed)

    # -- every actor ------------------------------------------------------------------------

    def _actors(self, view: SupervisorSnapshot) -> Iterator[Metric]:
        labels = ["actor", "kind"]
        state = GaugeMetricFamily(
            "gridsup_actor_state", "1 for the actor's current state.", labels=[*labels, "state"]
        )
        restarts = CounterMetricFamily(
            "gridsup_actor_restarts", "Restarts of the actor by the supervisor.", labels=labels
        )
        beat = GaugeMetricFamily(
            "gridsup_actor_heartbeat_age_seconds",
            "Seconds since the actor's last heartbeat.",
            labels=labels,
        )
        rss = GaugeMetricFamily(
            "gridsup_actor_resident_memory_bytes",
            "Resident memory of the actor's process.",
            labels=labels,
        )
        queue = GaugeMetricFamily(
            "gridsup_actor_queue_depth",
            "Items waiting in one of the actor's queues.",
            labels=[*labels, "queue"],
        )
        memory = self._memory.rss([a.pid for a in view.actors if a.pid is not None])
        for a in view.actors:
            key = [a.name, a.kind]
            state.add_metric([*key, a.state], 1)
            restarts.add_metric(key, a.restarts)
            if a.last_heartbeat_age is not None:
                beat.add_metric(key, a.last_heartbeat_age)
            if a.pid is not None and a.pid in memory:
                rss.add_metric(key, memory[a.pid])
            for status_key, name in _QUEUES.get(a.kind, {}).items():
                depth = number(a.status.get(status_key))
                if depth is not None:
                    queue.add_metric([*key, name], depth)
        yield from (state, restarts, beat, rss, queue)

    def _streams(self, actors: tuple[ActorStatus, ...]) -> Iterator[Metric]:
        connected = GaugeMetricFamily(
            "gridsup_exchange_stream_connected",
            "1 while the actor's websocket stream is connected (actors with a stream only).",
            labels=["exchange", "actor"],
        )
        for a in actors:
            value = number(a.status.get(telemetry.STREAM_CONNECTED))
            if value is not None:
                connected.add_metric([self.exchange, a.name], value)
        yield connected

    # -- persistence, market data -----------------------------------------------------------

    def _persistence(self, actors: list[ActorStatus]) -> Iterator[Metric]:
        labels = ["actor"]
        written = CounterMetricFamily(
            "gridsup_persistence_records_written", "Records stored.", labels=labels
        )
        duplicates = CounterMetricFamily(
            "gridsup_persistence_duplicates",
            "Records received again and stored once (idempotent keys).",
            labels=labels,
        )
        retries = CounterMetricFamily(
            "gridsup_persistence_commit_retries",
            "Commits tried again after a database failure.",
            labels=labels,
        )
        queue = GaugeMetricFamily(
            "gridsup_persistence_queue_depth",
            "Write requests waiting for their commit.",
            labels=labels,
        )
        write = SummaryMetricFamily(
            "gridsup_persistence_write_seconds",
            "Time spent committing batches to the database.",
            labels=labels,
        )
        down = GaugeMetricFamily(
            "gridsup_persistence_database_failing",
            "1 while the last commit attempt failed.",
            labels=labels,
        )
        for a in actors:
            s, key = a.status, [a.name]
            for family, status_key in (
                (written, "written"),
                (duplicates, "duplicates"),
                (retries, "db_retries"),
                (queue, "queued"),
                (down, "db_failing"),
            ):
                value = number(s.get(status_key))
                if value is not None:
                    family.add_metric(key, value)
            total = number(s.get(telemetry.WRITE_SECONDS_SUM))
            count = number(s.get(telemetry.WRITE_SECONDS_COUNT))
            if total is not None and count is not None:
                write.add_metric(key, int(count), total)
        yield from (written, duplicates, retries, queue, write, down)

    def _market(self, actors: list[ActorStatus]) -> Iterator[Metric]:
        ticks = CounterMetricFamily(
            "gridsup_market_ticks_published", "Ticks the market-data actor published."
        )
        age = GaugeMetricFamily(
            "gridsup_market_last_tick_age_seconds",
            "Seconds since the last tick of a symbol.",
            labels=["symbol"],
        )
        for a in actors:
            s = a.status
            value = number(s.get("ticks_published"))
            if value is not None:
                ticks.add_metric([], value)
            for status_key, raw in s.items():
                if (
                    status_key.startswith(_MARKET_AGE_PREFIX)
                    and (seconds := number(raw)) is not None
                ):
                    age.add_metric([status_key.removeprefix(_MARKET_AGE_PREFIX)], seconds)
        yield from (ticks, age)
