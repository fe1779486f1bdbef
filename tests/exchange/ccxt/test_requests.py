"""RequestRunner on a hand-written ccxt client: which errors are retried, how long it
waits, when the clock is re-read, and that a secret never reaches an error message. No
network, no real sleep."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import ccxt.async_support as ccxt
import pytest

from gridsup.exchange import errors
from gridsup.exchange.ccxt.client import RedactFilter
from gridsup.exchange.ccxt.dialects import GENERIC, dialect_for
from gridsup.exchange.ccxt.requests import RequestRunner
from gridsup.exchange.retry import RetryPolicy
from gridsup.messages import telemetry

POLICY = RetryPolicy(attempts=3, base_delay=0.5, multiplier=2, max_delay=10)


class FakeClient:
    """What RequestRunner reads of a ccxt client: the last answer's headers and the
    clock re-read."""

    def __init__(self) -> None:
        self.last_response_headers: dict[str, str] = {}
        self.clock_reads = 0

    async def load_time_difference(self) -> int:
        self.clock_reads += 1
        return 0


def scripted(*outcomes: object) -> Callable[[], Awaitable[object]]:
    """A ccxt call that raises or returns each outcome in turn."""
    queue = list(outcomes)

    async def call() -> object:
        outcome = queue.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return call


def runner(client: Any = None, secrets: tuple[str, ...] = ()) -> tuple[RequestRunner, list[float]]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    made = RequestRunner(
        client if client is not None else FakeClient(),
        "binance",
        dialect_for("binance"),
        RedactFilter(list(secrets)),
        retry=POLICY,
        sleep=sleep,
        budget=None,
    )
    return made, slept


async def test_temporary_errors_are_retried_with_backoff() -> None:
    run, slept = runner()

    result = await run.call(
        "fetch_ticker", scripted(ccxt.RequestTimeout("t"), ccxt.NetworkError("n"), "ok")
    )

    assert result == "ok"
    assert slept == [0.5, 1.0]
    assert run.status()[telemetry.LATENCY_COUNT] == 3  # every attempt timed


async def test_retries_spent_raise_the_mapped_error() -> None:
    run, slept = runner()

    with pytest.raises(errors.ExchangeUnavailable):
        await run.call("fetch_ticker", scripted(*[ccxt.ExchangeNotAvailable("5xx")] * 3))

    assert slept == [0.5, 1.0]


@pytest.mark.parametrize(
    "exc",
    [ccxt.InsufficientFunds("x"), ccxt.OrderNotFound("x"), ccxt.AuthenticationError("x")],
)
async def test_other_errors_are_raised_at_once(exc: Exception) -> None:
    run, slept = runner()

    with pytest.raises(errors.ExchangeError) as info:
        await run.call("create_order", scripted(exc, "never"))

    assert not isinstance(info.value, errors.ExchangeUnavailable | errors.RateLimited)
    assert slept == []


async def test_a_refused_timestamp_rereads_the_clock_before_the_retry() -> None:
    client = FakeClient()
    run, slept = runner(client)

    result = await run.call("fetch_balance", scripted(ccxt.InvalidNonce("-1021"), "ok"))

    assert (result, client.clock_reads, slept) == ("ok", 1, [0.5])


@pytest.mark.parametrize(
    ("retry", "error", "delay"),
    [
        (1, errors.ExchangeUnavailable("x"), 0.5),
        (2, errors.RateLimited("x", retry_after=3), 3.0),
        (3, errors.ExchangeUnavailable("x"), None),  # attempts spent
        (1, errors.InvalidOrder("x"), None),  # not temporary
    ],
)
def test_retry_delay(retry: int, error: errors.ExchangeError, delay: float | None) -> None:
    run, _ = runner()

    assert run.retry_delay(retry, error) == delay


def test_mapped_errors_carry_no_secret() -> None:
    run, _ = runner(secrets=("s3cret-key",))

    error = run.map_error(ccxt.AuthenticationError("invalid key s3cret-key"))

    assert isinstance(error, errors.AuthenticationError)
    assert "s3cret-key" not in str(error)


def test_the_generic_dialect_maps_too() -> None:
    run = RequestRunner(
        FakeClient(), "x", GENERIC, RedactFilter([]), retry=POLICY, sleep=_never, budget=None
    )

    assert isinstance(run.map_error(ccxt.BadSymbol("x")), errors.BadSymbol)
    assert run.status() == {}  # no request yet: no figures


async def _never(seconds: float) -> None:
    raise AssertionError(f"slept {seconds}")
