"""How the ccxt adapter runs one request: through the host's request budget, timed and
counted, in a private decimal context, its ccxt errors mapped to ours at one boundary,
temporary ones retried with backoff (a -1021 re-reads the exchange's clock first).

``RequestRunner`` is what ``CcxtExchange`` sends every request through; order creation
uses its parts (:meth:`~RequestRunner.send`, :meth:`~RequestRunner.map_error`, the
backoff) but not :meth:`~RequestRunner.call`: a create is retried by ``CreateAttempts``
(``create``), which settles a lost answer before retrying.
"""

from __future__ import annotations

import decimal
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import ccxt.async_support as ccxt
import structlog

from gridsup.exchange.budget import Budget
from gridsup.exchange.ccxt.client import (
    RedactFilter,
    error_response_headers,
    peek_error_headers,
    take_response_status,
)
from gridsup.exchange.ccxt.dialects import Dialect
from gridsup.exchange.ccxt.errors import (
    TimestampRejected,
    header_value,
    map_ccxt_error,
    parse_retry_after,
    rate_refusal,
)
from gridsup.exchange.errors import ExchangeError
from gridsup.exchange.request_stats import RequestStats
from gridsup.exchange.retry import RetryPolicy, is_temporary

__all__ = ["RequestRunner"]

log = structlog.get_logger(__name__)
T = TypeVar("T")


async def _isolated(fn: Callable[[], Awaitable[T]]) -> T:
    """Await a ccxt call in a private decimal context.

    ccxt's ``decimal_to_precision`` sets the current context's rounding to ROUND_HALF_UP
    and traps Underflow; without this every Decimal computation of the process would
    change behaviour after the first order.
    """
    with decimal.localcontext():
        return await fn()


def _refusal_status(exc: Exception) -> str:
    """How a venue refused for the rate: "418"/"403" (an IP ban) or "429" (the rest)."""
    text = str(exc)
    if "418" in text or "banned" in text:
        return "418"
    if "403" in text or "access too frequent" in text:  # Bybit's IP ban
        return "403"
    return "429"


class RequestRunner:
    """Runs the ccxt requests of one client (``client``, a ``ccxt.async_support``
    exchange) of ``exchange_id``; ``budget`` is the host's shared request budget
    (exchange/budget.py, venue_budget.py; None: none kept here), ``sleep`` the backoff's
    sleep. Latency and 429/418 answers are counted in :attr:`stats`."""

    def __init__(
        self,
        client: Any,
        exchange_id: str,
        dialect: Dialect,
        redactor: RedactFilter,
        *,
        retry: RetryPolicy,
        sleep: Callable[[float], Awaitable[None]],
        budget: Budget | None,
    ) -> None:
        self._client = client
        self._exchange_id = exchange_id
        self._dialect = dialect
        self._redactor = redactor
        self._retry = retry
        self._sleep = sleep
        self.budget = budget
        self.stats = RequestStats()

    def __repr__(self) -> str:
        return f"RequestRunner(exchange={self._exchange_id!r}, budget={self.budget is not None})"

    def map_error(self, exc: Exception) -> ExchangeError:
        """ccxt's ``exc`` as our error (``ccxt.errors.map_ccxt_error``), secrets redacted."""
        error = map_ccxt_error(exc, error_response_headers(), self._dialect)
        error.args = (self._redactor.redact(str(error)),)
        return error

    async def send(self, op: str, fn: Callable[[], Awaitable[T]], symbols: int | None = None) -> T:
        """One ccxt request through the request budget: its weight taken before, the
        exchange's weight header followed after, a 429/418 pausing every caller of the
        budget until its Retry-After; timed and counted in :attr:`stats`.

        Raises:
            ccxt.BaseError: what ccxt raises (not mapped).
        """
        budget = self.budget
        if budget is not None:
            await budget.take(op, symbols)
        began = time.perf_counter()
        try:
            result = await _isolated(fn)
        except ccxt.BaseError as exc:
            status = take_response_status()
            refusal = rate_refusal(status, exc)
            self.stats.record(time.perf_counter() - began, status, refusal)
            if budget is not None:
                headers = peek_error_headers()
                budget.observe(headers)
                if refusal is not None:
                    retry_after = parse_retry_after(header_value(headers, "Retry-After"))
                    # Bybit bans an IP with a 403 that the budget pauses for longer
                    banned = _refusal_status(exc) if refusal == "429" else refusal
                    budget.refused(op, retry_after, headers, banned)
            raise
        self.stats.record(time.perf_counter() - began, take_response_status())
        if budget is not None:
            budget.observe(self._client.last_response_headers)
        return result

    async def call(self, op: str, fn: Callable[[], Awaitable[T]], symbols: int | None = None) -> T:
        """Run one ccxt request; map its errors; retry temporary ones with backoff.

        Raises:
            ExchangeError: the mapped error, once retries are spent or if not temporary.
        """
        retry = 0
        while True:
            try:
                return await self.send(op, fn, symbols)
            except ccxt.BaseError as exc:
                error = self.map_error(exc)
                retry += 1
                delay = self.retry_delay(retry, error)
                if delay is None:
                    raise error from exc
            log.warning(
                "exchange_call_retried",
                exchange=self._exchange_id,
                op=op,
                retry=retry,
                delay=delay,
                error=error.__class__.__name__,
                detail=str(error),
            )
            await self.pause(error, delay)

    def retry_delay(self, retry: int, error: ExchangeError) -> float | None:
        """Seconds to wait before retry number ``retry`` (1-based) after ``error``; None:
        raise it (not temporary, the retries are spent, or the venue asks for too long a
        wait: ``RetryPolicy``)."""
        return self._retry.delay(retry, error) if is_temporary(error) else None

    async def pause(self, error: ExchangeError, delay: float) -> None:
        """Wait ``delay`` seconds before a retry after ``error``, the exchange's clock
        re-read first after a -1021 (``TimestampRejected``)."""
        if isinstance(error, TimestampRejected):
            await self.resync_clock()
        await self._sleep(delay)

    async def resync_clock(self) -> None:
        """Re-read the exchange's clock offset (after a -1021); a failure is logged."""
        try:
            await self.send("load_time_difference", self._client.load_time_difference)
        except ccxt.BaseError as exc:
            log.warning("exchange_clock_sync_failed", exchange=self._exchange_id, error=str(exc))

    def status(self) -> dict[str, float | int | bool]:
        """This client's request figures (latency histogram, 429/418, reachable) and,
        with a budget, the host's shared ones, which win: weight used and limit, and the
        429/418 answers of every process of the run (``gridsup.messages.telemetry``)."""
        out = self.stats.status()
        if self.budget is not None:
            out.update(self.budget.status())
        return out
