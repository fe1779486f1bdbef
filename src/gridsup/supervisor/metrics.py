"""Prometheus metrics of a running supervisor: a custom collector over its latest status.

Nothing is updated per heartbeat: at scrape time :class:`SupervisorCollector` reads the
supervisor's status snapshot (each child's state, restarts, heartbeat age and the flat
status of its last heartbeat) and turns it into metric families. A scrape of 100 grids
costs a few milliseconds of the supervisor's loop, every scrape interval, and nothing in
between (``bench/metrics.py``).

Names follow Prometheus conventions: ``gridsup_`` prefix, base units (seconds, bytes),
``_total`` for counters; labels are bounded: ``grid``, ``symbol``, ``actor``, ``kind``,
``exchange``, ``account`` (one per execution actor), ``asset`` and enum values
(``state``, ``outcome``, ``queue``, ``code``). The list is in docs/operations.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import psutil
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from gridsup.messages import telemetry
from gridsup.messages.control import ActorStatus, StatusValue

# Kinds, as the app names them (gridsup.app.KIND_*; the supervisor cannot import app).
KIND_STRATEGY = "strategy"
KIND_EXECUTION = "execution"
KIND_PERSISTENCE = "persistence"
KIND_MARKET_DATA = "market_data"

_FEE_PREFIX = "fee:"  # a strategy's fee in a third currency (see actors.strategy_status)
_MARKET_AGE_PREFIX = "age:"  # the market-data actor's age of a symbol's last tick
# Queue-like status fields by actor kind: status key -> the ``queue`` label.
_QUEUES: dict[str, dict[str, str]] = {
    KIND_STRATEGY: {"events_queued": "events", "requests_pending": "requests"},
    KIND_PERSISTENCE: {"queued": "writes", "committing": "committing"},
    KIND_EXECUTION: {"outbox": "outbox", "pending_store_acks": "store_acks"},
}
# Reconciliation outcomes a strategy reports as recon_<outcome> counts.
RECON_OUTCOMES = (
    "orphans",
    "unadopted",
    "phantoms_filled",
    "phantoms_cancelled",
    "phantoms_rejected",
    "replaced",
    "dropped",
    "resent",
    "unsent",
    "foreign",
)


@dataclass(frozen=True, slots=True)
class SupervisorView:
    """What the collector reads: the supervisor's latest status, taken at scrape time."""

    pid: int
    uptime: float
    state: str
    actors: tuple[ActorStatus, ...]
    frames_dropped: int = 0
    alerts_sent: Mapping[str, int] = field(default_factory=dict)  # cause -> messages sent
    alerts_suppressed: int = 0


def number(value: StatusValue) -> float | None:
    """A status value as a float (exact decimal text included); None if it is none."""
    if value is None or isinstance(value, bool):
        return None if value is None else float(value)
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(Decimal(value))
    except (InvalidOperation, ValueError):
        return None


def grid_state(actor: ActorStatus) -> str:
    """The grid's state as ``gridsup status`` shows it: the strategy's own state while
    its process runs (``stopped`` once its strategy stopped), else the process's."""
    s = actor.status
    if s.get("stopped"):
        return "stopped"
    own = s.get("state")
    return str(own) if actor.state == "running" and isinstance(own, str) else actor.state


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

    def __init__(self, view: Callable[[], SupervisorView], exchange: str) -> None:
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
        grids = [a for a in view.actors if a.kind == KIND_STRATEGY]
        yield from self._grids(grids)
        yield from self._account([a for a in view.actors if a.kind == KIND_EXECUTION])
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

    def _supervisor(self, view: SupervisorView) -> Iterator[Metric]:
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

    def _actors(self, view: SupervisorView) -> Iterator[Metric]:
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

    # -- grids ------------------------------------------------------------------------------

    def _grids(self, grids: list[ActorStatus]) -> Iterator[Metric]:
        labels = ["grid", "symbol"]

        def gauge(name: str, doc: str, extra: tuple[str, ...] = ()) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=[*labels, *extra])

        def counter(name: str, doc: str, extra: tuple[str, ...] = ()) -> CounterMetricFamily:
            return CounterMetricFamily(name, doc, labels=[*labels, *extra])

        state = gauge("gridsup_grid_state", "1 for the grid's current state.", ("state",))
        open_orders = gauge("gridsup_grid_open_orders", "Orders the grid has on the exchange.")
        fills = counter(
            "gridsup_grid_fills", "Fills the grid's current process received as order updates."
        )
        cycles = counter(
            "gridsup_grid_cycles_completed", "Round trips (buy then sell) the grid completed."
        )
        profit = gauge(
            "gridsup_grid_realized_profit",
            "Realized profit of the grid's completed cycles, net of fees.",
            ("asset",),
        )
        fees = counter("gridsup_grid_fees_paid", "Fees the grid paid, by asset.", ("asset",))
        base = gauge("gridsup_grid_base_held", "Base the grid owns.", ("asset",))
        quote = gauge(
            "gridsup_grid_quote_in_orders", "Quote the grid's open buys hold.", ("asset",)
        )
        tick = gauge("gridsup_grid_last_tick_age_seconds", "Seconds since the grid's last tick.")
        restarts = counter("gridsup_grid_restarts", "Restarts of the grid's process.")
        skipped = gauge(
            "gridsup_grid_skipped_levels", "Levels the exchange or the market's limits refused."
        )
        recon = gauge(
            "gridsup_grid_reconciliation_orders",
            "Orders per outcome of the grid's last reconciliation (outcomes that occurred).",
            ("outcome",),
        )
        mismatches = gauge(
            "gridsup_grid_reconciliation_mismatches",
            "Mismatches found by the grid's last reconciliation.",
        )
        aborted = gauge(
            "gridsup_grid_reconciliation_aborted",
            "1 when the grid's last reconciliation stopped it (policy abort).",
        )
        for a in grids:
            s = a.status
            grid = str(s.get("grid") or a.name.removeprefix("grid-"))
            symbol = str(s.get("symbol") or "")
            base_asset, _, quote_asset = symbol.partition("/")
            key = [grid, symbol]
            state.add_metric([*key, grid_state(a)], 1)
            restarts.add_metric(key, a.restarts)
            if not s:
                continue  # no heartbeat from this process yet: nothing of its own
            for family, status_key in (
                (open_orders, "open_orders"),
                (fills, "fills"),
                (cycles, "completed_cycles"),
                (tick, "last_tick_age_s"),
                (skipped, "skipped_levels"),
                (mismatches, "recon_mismatches"),
                (aborted, "recon_aborted"),
            ):
                value = number(s.get(status_key))
                if value is not None:
                    family.add_metric(key, value)
            for family, status_key, asset in (
                (profit, "realized_profit", quote_asset),
                (fees, "fees_paid", quote_asset),
                (base, "base_held", base_asset),
                (quote, "quote_in_orders", quote_asset),
            ):
                value = number(s.get(status_key))
                if value is not None:
                    family.add_metric([*key, asset], value)
            for status_key, raw in s.items():
                if status_key.startswith(_FEE_PREFIX) and (value := number(raw)) is not None:
                    fees.add_metric([*key, status_key.removeprefix(_FEE_PREFIX)], value)
            for outcome in RECON_OUTCOMES:
                # Only the outcomes that happened: nearly all are 0 on nearly every grid,
                # and ten series per grid would be a third of a scrape.
                value = number(s.get(f"recon_{outcome}"))
                if value:
                    recon.add_metric([*key, outcome], value)
        yield from (state, open_orders, fills, cycles, profit, fees, base, quote, tick)
        yield from (restarts, skipped, recon, mismatches, aborted)

    # -- the exchange account (execution actor) ---------------------------------------------

    def _account(self, actors: list[ActorStatus]) -> Iterator[Metric]:
        labels = ["exchange", "account"]
        families: dict[str, GaugeMetricFamily | CounterMetricFamily] = {
            "placed": CounterMetricFamily(
                "gridsup_exchange_orders_placed", "Orders placed on the account.", labels=labels
            ),
            "rejected": CounterMetricFamily(
                "gridsup_exchange_orders_rejected", "Orders the venue refused.", labels=labels
            ),
            "fills": CounterMetricFamily(
                "gridsup_exchange_fills", "Fills on the account.", labels=labels
            ),
            "budget_refusals": CounterMetricFamily(
                "gridsup_exchange_budget_refusals",
                "Orders refused because a grid's budget would be exceeded.",
                labels=labels,
            ),
            "rate_limit_waits": CounterMetricFamily(
                "gridsup_exchange_rate_limit_waits",
                "Requests that waited for the account's rate limiter.",
                labels=labels,
            ),
            "rate_limit_waited_s": CounterMetricFamily(
                "gridsup_exchange_rate_limit_wait_seconds",
                "Time requests waited for the account's rate limiter.",
                labels=labels,
            ),
            telemetry.WEIGHT_USED: GaugeMetricFamily(
                "gridsup_exchange_request_weight_used",
                "Request weight used in the venue's current window (every process on the IP).",
                labels=labels,
            ),
            telemetry.WEIGHT_LIMIT: GaugeMetricFamily(
                "gridsup_exchange_request_weight_limit",
                "The venue's request weight limit per window.",
                labels=labels,
            ),
            telemetry.EXCHANGE_REACHABLE: GaugeMetricFamily(
                "gridsup_exchange_reachable",
                "1 while the venue answers the account's requests.",
                labels=labels,
            ),
            telemetry.BANNED_UNTIL_MS: GaugeMetricFamily(
                "gridsup_exchange_banned_until_timestamp_seconds",
                "End of the venue's last 418 ban (seconds since the epoch; 0: never banned).",
                labels=labels,
            ),
        }
        http = CounterMetricFamily(
            "gridsup_exchange_http_errors",
            "Rate-limit (429) and ban (418) answers from the venue.",
            labels=[*labels, "code"],
        )
        latency = HistogramMetricFamily(
            "gridsup_exchange_request_latency_seconds",
            "Latency of the account's requests to the venue (answered or not).",
            labels=labels,
        )
        for a in actors:
            s = a.status
            # One execution actor per run, one account: the label stays bounded.
            key = [self.exchange, str(s.get(telemetry.ACCOUNT) or a.name)]
            for status_key, family in families.items():
                value = number(s.get(status_key))
                if value is not None:
                    if status_key == telemetry.BANNED_UNTIL_MS:
                        value /= 1000  # base units: seconds
                    family.add_metric(key, value)
            for code, status_key in (("429", telemetry.HTTP_429), ("418", telemetry.HTTP_418)):
                value = number(s.get(status_key))
                if value is not None:
                    http.add_metric([*key, code], value)
            buckets = telemetry.latency_buckets(s)
            count = number(s.get(telemetry.LATENCY_COUNT))
            if buckets and count is not None:
                # Bounds written as the client libraries write them (1.0, not 1).
                pairs = [(floatToGoString(b), float(c)) for b, c in buckets]
                pairs.append(("+Inf", count))
                total = number(s.get(telemetry.LATENCY_SUM)) or 0.0
                latency.add_metric(key, pairs, total)
        yield from families.values()
        yield from (http, latency)

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
