"""Status keys that the supervisor's metrics and alerts read from actors' heartbeats.

An actor's heartbeat status is a flat dict of scalars (:data:`~gridsup.messages.control.
StatusValue`). The keys below are the contract between the actors that measure and the
supervisor that exports (``gridsup.supervisor.metrics``) and alerts
(``gridsup.supervisor.alert_rules``): an actor that measures one of these things reports
it under this key, and it appears as a metric without any change to the supervisor.
Absent keys export nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# -- the execution actor: the exchange account (request budget: issue 14) ----------------
# Which account: the name of the environment variable holding its API key (never the
# key), "paper" in a dry run. One per execution actor: a bounded metrics label.
ACCOUNT = "account"
WEIGHT_USED = "weight_used"  # request weight used in the venue's current window
WEIGHT_LIMIT = "weight_limit"  # the venue's limit for that window
HTTP_429 = "http_429"  # answers "too many requests" so far (a counter)
HTTP_418 = "http_418"  # answers "banned" so far (a counter)
EXCHANGE_REACHABLE = "exchange_reachable"  # False while requests fail on the network
AUTH_REFUSED = "auth_refused"  # True once the venue refused our key
BANNED_UNTIL_MS = "banned_until_ms"  # the venue's ban end (ms since the epoch), if banned
# Request latency as a cumulative histogram: "request_latency_le:<bound>" counts, plus
# _sum (seconds) and _count. :func:`latency_status` builds these keys.
LATENCY_PREFIX = "request_latency_le:"
LATENCY_SUM = "request_latency_sum"
LATENCY_COUNT = "request_latency_count"
LATENCY_BUCKETS: tuple[float, ...] = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# -- streams (market data and user data over websockets: issue 15) -----------------------
STREAM_CONNECTED = "stream_connected"  # True while the actor's stream is up

# -- the persistence actor ------------------------------------------------------------
WRITE_SECONDS_SUM = "write_seconds_sum"  # time spent committing batches (seconds)
WRITE_SECONDS_COUNT = "write_seconds_count"  # batches committed (with the sum: a summary)


def latency_status(
    bounds: Sequence[float], counts: Sequence[int], total_s: float, count: int
) -> dict[str, float | int]:
    """The status keys of a latency histogram: cumulative ``counts`` per upper bound."""
    out: dict[str, float | int] = {
        f"{LATENCY_PREFIX}{b:g}": c for b, c in zip(bounds, counts, strict=True)
    }
    out[LATENCY_SUM] = total_s
    out[LATENCY_COUNT] = count
    return out


def latency_buckets(status: Mapping[str, object]) -> list[tuple[float, int]]:
    """(upper bound, cumulative count) pairs found in ``status``, sorted."""
    found: list[tuple[float, int]] = []
    for key, value in status.items():
        if key.startswith(LATENCY_PREFIX) and isinstance(value, int):
            try:
                found.append((float(key.removeprefix(LATENCY_PREFIX)), value))
            except ValueError:
                continue
    return sorted(found)
