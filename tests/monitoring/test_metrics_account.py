"""The account's exchange metrics as the supervisor's collector exports them from the
execution actor's status keys (messages/telemetry.py): labelled by exchange and account
only, the latency as a real Prometheus histogram; read back through prometheus-client's
own exposition and parser."""

from __future__ import annotations

from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from gridsup.exchange.request_stats import RequestStats
from gridsup.messages import telemetry
from gridsup.messages.control import ActorStatus, StatusValue
from gridsup.supervisor.metrics import SupervisorCollector, SupervisorSnapshot

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(*actors: ActorStatus) -> tuple[Samples, dict[str, str]]:
    """Every sample, and each family's type, of a collection over ``actors``."""
    view = SupervisorSnapshot(pid=1, uptime=5.0, state="running", actors=actors)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SupervisorCollector(lambda: view, "binance"))
    samples: Samples = {}
    types: dict[str, str] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        types[family.name] = family.type
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples, types


def execution(**status: StatusValue) -> ActorStatus:
    return ActorStatus(name="execution", kind="execution", state="running", status=status)


def account_status() -> dict[str, StatusValue]:
    stats = RequestStats()
    for seconds in (0.004, 0.03, 0.03, 0.7, 12.0):
        stats.record(seconds, 200)
    return {
        telemetry.ACCOUNT: "BINANCE_KEY",
        **stats.status(),
        telemetry.WEIGHT_USED: 393,
        telemetry.WEIGHT_LIMIT: 6000,
        telemetry.HTTP_429: 2,
        telemetry.HTTP_418: 1,
        telemetry.BANNED_UNTIL_MS: 1_700_000_000_500,
    }


ACCOUNT = {"exchange": "binance", "account": "BINANCE_KEY"}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset({**ACCOUNT, **labels}.items()))]


def test_the_account_figures_are_exported_under_exchange_and_account() -> None:
    samples, types = scrape(execution(**account_status()))

    assert value(samples, "gridsup_exchange_request_weight_used") == 393
    assert value(samples, "gridsup_exchange_request_weight_limit") == 6000
    assert value(samples, "gridsup_exchange_http_errors_total", code="429") == 2
    assert value(samples, "gridsup_exchange_http_errors_total", code="418") == 1
    assert value(samples, "gridsup_exchange_reachable") == 1
    assert value(samples, "gridsup_exchange_banned_until_timestamp_seconds") == 1_700_000_000.5
    assert types["gridsup_exchange_request_latency_seconds"] == "histogram"
    name = "gridsup_exchange_request_latency_seconds"
    assert value(samples, f"{name}_count") == 5
    assert value(samples, f"{name}_sum") == 12.764
    buckets = {
        dict(labels)["le"]: v
        for (n, labels), v in samples.items()
        if n == f"{name}_bucket" and {*ACCOUNT.items()} <= labels
    }
    assert buckets == {
        "0.01": 1, "0.025": 1, "0.05": 3, "0.1": 3, "0.25": 3, "0.5": 3,
        "1.0": 4, "2.5": 4, "5.0": 4, "10.0": 4, "+Inf": 5,
    }  # fmt: skip
    exchange_series = [key for n, key in samples if n.startswith("gridsup_exchange_")]
    assert {k for key in exchange_series for k, _ in key} <= {"exchange", "account", "code", "le"}


def test_an_actor_reporting_none_of_it_exports_no_account_series() -> None:
    samples, _ = scrape(execution(mode="dry_run", placed=3))

    assert value(samples, "gridsup_exchange_orders_placed_total", account="execution") == 3
    assert not [n for n, _ in samples if "weight" in n or "latency" in n or "http_errors" in n]
