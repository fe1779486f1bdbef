"""Retry policy for temporary exchange errors: exponential backoff, Retry-After honoured.

Pure arithmetic: the sleeping is done by the caller (``CcxtExchange``), with an
injectable sleep so that the policy is testable without waiting.
"""

from __future__ import annotations

import msgspec

from gridsup.exchange.errors import ExchangeError, ExchangeUnavailable, RateLimited

__all__ = ["RetryPolicy", "is_temporary"]


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """How often and how patiently a temporary error is retried.

    ``attempts`` counts every try (1 = no retry). The n-th retry waits
    ``base_delay * multiplier**(n-1)`` seconds, capped at ``max_delay``; a rate limit with
    a Retry-After waits what the exchange asked, capped at ``max_retry_after`` (beyond it
    the error is raised: waiting minutes inside one call would stall its caller).
    """

    attempts: int = 5
    base_delay: float = 0.5
    multiplier: float = 2.0
    max_delay: float = 30.0
    max_retry_after: float = 120.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"RetryPolicy.attempts must be >= 1, got {self.attempts}")
        if self.base_delay < 0 or self.max_delay < 0 or self.multiplier < 1:
            raise ValueError("RetryPolicy delays must be >= 0 and multiplier >= 1")

    def delay(self, retry: int, error: ExchangeError | None = None) -> float | None:
        """Seconds to wait before retry number ``retry`` (1-based) after ``error``.

        None means give up: the attempts are spent, or the exchange asked for a wait
        longer than ``max_retry_after``.
        """
        if retry >= self.attempts:
            return None
        if isinstance(error, RateLimited) and error.retry_after is not None:
            if error.retry_after > self.max_retry_after:
                return None
            return max(error.retry_after, 0.0)
        return min(self.base_delay * self.multiplier ** (retry - 1), self.max_delay)


def is_temporary(error: ExchangeError) -> bool:
    """Whether retrying the same request may succeed (rate limit, network, 5xx)."""
    return isinstance(error, RateLimited | ExchangeUnavailable)
