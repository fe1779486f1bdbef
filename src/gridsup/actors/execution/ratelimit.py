"""One token bucket for the whole exchange account (design invariant 7).

Every request the execution actor sends to the exchange takes a token; tokens refill at
``rate`` per second up to ``burst``. A caller without a token waits (asynchronously) for
the next one instead of being refused, so a hundred grids queue politely behind each
other rather than getting the account banned. Waits are counted for ``status``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class TokenBucket:
    """``rate`` requests per second on average, ``burst`` at once.

    Raises (on construction):
        ValueError: ``rate`` or ``burst`` is not positive.
    """

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate limit must be > 0 requests/s, got {rate}")
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        if self.burst <= 0:
            raise ValueError(f"burst must be > 0, got {self.burst}")
        self._clock, self._sleep = clock, sleep
        self._tokens = self.burst
        self._stamp = clock()
        self._lock = asyncio.Lock()  # waiters are served in arrival order
        self.waits = 0  # acquisitions that had to wait
        self.waited_s = 0.0  # total time spent waiting

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self) -> None:
        """Take one token, waiting for it if the bucket is empty."""
        async with self._lock:
            self._refill()
            if self._tokens < 1:
                delay = (1 - self._tokens) / self.rate
                self.waits += 1
                self.waited_s += delay
                await self._sleep(delay)
                self._refill()
            self._tokens -= 1

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self.rate}/s, burst={self.burst}, waits={self.waits})"
