"""The trading figures of a run as metric families: each grid's orders, fills, profit,
fees and reconciliation (from its strategy actor's status), and the exchange account's
orders, rate limits and request latency (from the execution actor's status).

The supervisor's and every actor's process figures are in
:mod:`~gridsup.supervisor.metrics.collector`, which yields these too.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from gridsup.messages import telemetry
from gridsup.messages.control import ActorStatus
from gridsup.supervisor.metrics.values import grid_state, number

_FEE_PREFIX = "fee:"  # a strategy's fee in a third currency (see actors.grid.status)
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


def grid_families(grids: list[ActorStatus]) -> Iterator[Metric]:
    """The grids' own figures, from each strategy actor's status."""
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
    quote = gauge("gridsup_grid_quote_in_orders", "Quote the grid's open buys hold.", ("asset",))
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


def account_families(actors: list[ActorStatus], exchange: str) -> Iterator[Metric]:
    """The exchange account's figures, from the execution actor's status; ``exchange``
    labels them (the run's exchange id)."""
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
        key = [exchange, str(s.get(telemetry.ACCOUNT) or a.name)]
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
