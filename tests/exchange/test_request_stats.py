"""What one client's requests did (exchange/request_stats.py): the latency histogram's
buckets, the 429/418 counts and "reachable", as the status keys the supervisor's
metrics read back (messages/telemetry.py)."""

from __future__ import annotations

import pytest

from gridsup.exchange.request_stats import UNREACHABLE_AFTER, RequestStats
from gridsup.messages import telemetry


def test_nothing_is_reported_before_the_first_request() -> None:
    assert RequestStats().status() == {}


@pytest.mark.parametrize(
    ("seconds", "first_bucket"),
    [(0.0, 0.01), (0.01, 0.01), (0.0101, 0.025), (0.3, 0.5), (10.0, 10.0), (42.0, None)],
)
def test_a_request_counts_in_every_bucket_from_its_own_upward(
    seconds: float, first_bucket: float | None
) -> None:
    stats = RequestStats()

    stats.record(seconds, 200)

    buckets = telemetry.latency_buckets(stats.status())
    assert [b for b, _ in buckets] == list(telemetry.LATENCY_BUCKETS)
    counted = [bound for bound, count in buckets if count == 1]
    assert counted[:1] == ([] if first_bucket is None else [first_bucket])
    assert all(count == 0 for bound, count in buckets if bound not in counted)
    assert stats.status()[telemetry.LATENCY_COUNT] == 1
    assert stats.status()[telemetry.LATENCY_SUM] == pytest.approx(seconds)


def test_refusals_are_counted_by_kind() -> None:
    stats = RequestStats()

    for refusal in ("429", "429", "418", None):
        stats.record(0.02, 429 if refusal == "429" else 418 if refusal else 200, refusal)

    status = stats.status()
    assert (status[telemetry.HTTP_429], status[telemetry.HTTP_418]) == (2, 1)
    assert status[telemetry.LATENCY_COUNT] == 4
    assert status[telemetry.EXCHANGE_REACHABLE] is True  # refusals are answers


@pytest.mark.parametrize("failure", [None, 503, 500])
def test_unreachable_after_requests_in_a_row_without_an_answer(failure: int | None) -> None:
    stats = RequestStats()
    stats.record(0.05, 200)

    for _ in range(UNREACHABLE_AFTER - 1):
        stats.record(10.0, failure)
    assert stats.status()[telemetry.EXCHANGE_REACHABLE] is True  # a blip is no outage
    stats.record(10.0, failure)
    assert stats.status()[telemetry.EXCHANGE_REACHABLE] is False
    stats.record(0.05, 400)  # an answer, even a refusal: it is there again
    assert stats.status()[telemetry.EXCHANGE_REACHABLE] is True


@pytest.mark.parametrize("bounds", [(), (1.0, 1.0), (2.0, 1.0)])
def test_bounds_must_increase(bounds: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="increase strictly"):
        RequestStats(bounds)
