"""What one client's requests to the exchange did, for the metrics and alerts (issue 17):
how long they took (a histogram with fixed buckets: bounded memory however long the run),
how many the venue refused for the rate (429) or with a ban (418), and whether it answers
at all.

"Reachable" is about the network, not the answer: any HTTP answer below 500 (an order
refused, a 429) proves the venue is there; :data:`UNREACHABLE_AFTER` requests in a row
without one (a timeout, a refused connection, a 5xx) make it unreachable until the next
answer. One failed request is not an outage: the retries of ``RequestRunner.call``
usually get through.

Pure counting: ``RequestRunner.send`` (``exchange/ccxt/requests.py``) measures and calls
:meth:`RequestStats.record`.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from itertools import pairwise

from gridsup.messages import telemetry

__all__ = ["UNREACHABLE_AFTER", "RequestStats"]

UNREACHABLE_AFTER = 3  # requests in a row without an answer below 500


class RequestStats:
    """Latency histogram, 429/418 counts and reachability of one client's requests.

    Raises (on construction):
        ValueError: ``bounds`` is empty or not strictly increasing.
    """

    def __init__(self, bounds: Sequence[float] = telemetry.LATENCY_BUCKETS) -> None:
        if not bounds or any(a >= b for a, b in pairwise(bounds)):
            raise ValueError(f"latency bounds must increase strictly, got {list(bounds)}")
        self.bounds = tuple(bounds)
        self._in_bucket = [0] * (len(self.bounds) + 1)  # the last one: above every bound
        self.count = 0
        self.total_s = 0.0
        self.http_429 = 0
        self.http_418 = 0
        self.unanswered = 0  # requests in a row without an answer below 500

    def record(self, seconds: float, status: int | None, refusal: str | None = None) -> None:
        """One request that took ``seconds`` and was answered ``status`` (None: no
        answer); ``refusal`` "429"/"418" when the venue refused it for the rate (it
        may say so in the body of another status)."""
        self._in_bucket[bisect_left(self.bounds, seconds)] += 1
        self.count += 1
        self.total_s += seconds
        if refusal == "418":
            self.http_418 += 1
        elif refusal == "429":
            self.http_429 += 1
        if status is None or status >= 500:
            self.unanswered += 1
        else:
            self.unanswered = 0

    @property
    def reachable(self) -> bool:
        return self.unanswered < UNREACHABLE_AFTER

    def status(self) -> dict[str, float | int | bool]:
        """The status keys of ``gridsup.messages.telemetry`` (nothing before the first
        request: no figure is better than a made-up one)."""
        if not self.count:
            return {}
        cumulative, running = [], 0
        for n in self._in_bucket[:-1]:
            running += n
            cumulative.append(running)
        out: dict[str, float | int | bool] = {
            **telemetry.latency_status(self.bounds, cumulative, round(self.total_s, 6), self.count),
            telemetry.HTTP_429: self.http_429,
            telemetry.HTTP_418: self.http_418,
            telemetry.EXCHANGE_REACHABLE: self.reachable,
        }
        return out

    def __repr__(self) -> str:
        return (
            f"RequestStats(count={self.count}, 429={self.http_429}, 418={self.http_418}, "
            f"reachable={self.reachable})"
        )
