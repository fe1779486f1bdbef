"""The account's exchange metrics end to end: `gridsup start` in live mode against the
loopback Binance (a real HTTP + websocket server process) through the real ccxt client,
serving /metrics. The loopback answers one order placement with 429 and the next with
418; a real HTTP scrape, parsed with prometheus-client's parser, then counts what the
loopback's own request log recorded: the 429 and the 418, the weight used in the
minute (the loopback's X-MBX-USED-WEIGHT-1M, within one request), requests timed in
the latency histogram, the venue reachable and both streams up. The grid trades on
through both, and the books balance to the unit at the end."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from e2e_books import read_database
from e2e_run import all_trading, cycles, grid_status, wait_for
from e2e_support import FAST_GRIDS, GridsEnv, e2e_loopback, live_grids_toml
from test_metrics import Samples, free_port, scrape

KEY_ENV, SECRET_ENV = "GSE2E_METRICS_KEY", "GSE2E_METRICS_SECRET"
KEYS = {KEY_ENV: "e2e-metrics-key", SECRET_ENV: "e2e-metrics-secret"}
GRID = dict(FAST_GRIDS[0])  # BTC/USDT 57000-63000, a level every 500
GRID_NAME = str(GRID["name"])
FULL_BOOK = int(GRID["num_grids"]) - 1  # one order in each slot between the levels
START = {"USDT": Decimal(10000)}
WINDOW_MS = 60_000  # Binance's weight window: the calendar minute
ACCOUNT = {"exchange": "binance", "account": KEY_ENV}
# (fault, price that makes the grid place an order the fault then answers)
FAULTS = (("rate_limit", "59400"), ("banned", "60100"))


@pytest.fixture
def loopback(env: GridsEnv) -> Iterator[str]:
    """The realistic loopback Binance at a still 60000: prices move only when the test
    posts them, so the requests stop when the grid has nothing to do."""
    keys = ("--api-key-env", KEY_ENV, "--secret-env", SECRET_ENV)
    with e2e_loopback(
        env, KEYS, *keys, "--balance", "USDT=10000", "--price", "BTC/USDT=60000"
    ) as url:
        yield url


def admin(url: str, path: str, body: Any = None) -> Any:
    """GET (``body`` None) or POST JSON to the loopback's admin route ``path``."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url + path, data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def account_value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset({**ACCOUNT, **labels}.items())))


def weight_compared(url: str, port: int) -> tuple[float, int, int] | None:
    """(metric, the loopback's weight used this minute, the weight of its last request)
    once they can be compared: the loopback's log did not move around the scrape, its
    last request is older than a heartbeat (the metric is a heartbeat's status), and
    this minute has weight; None before. The metric may miss the last request: one the
    budget never saw the answer of (ccxt.pro's listen-key requests bypass it)."""
    before = admin(url, "/admin/request_log")["requests"]
    samples = scrape(port)
    after = admin(url, "/admin/request_log")["requests"]
    now_ms = time.time() * 1000
    if len(after) != len(before) or not after or now_ms - after[-1]["time_ms"] < 2500:
        return None
    minute = [r for r in after if r["time_ms"] // WINDOW_MS == now_ms // WINDOW_MS]
    if not minute:
        return None  # a new minute, nothing sent in it yet: the next request will tell
    metric = account_value(samples, "gridsup_exchange_request_weight_used")
    if metric is None:
        return None
    return metric, int(minute[-1]["used_weight"]), int(minute[-1]["weight"])


def test_429_418_weight_and_latency_of_the_account_match_the_loopbacks_record(
    env: GridsEnv, loopback: str
) -> None:
    port = free_port()
    path = env.write(live_grids_toml([GRID], KEY_ENV, SECRET_ENV))
    run = env.start(
        str(path),
        "--exchange-url",
        loopback,
        "--tick-interval-ms",
        "100",
        "--metrics",
        f"127.0.0.1:{port}",
        extra_env=KEYS,
    )
    try:

        def settled() -> bool:
            # The price again, as Binance's ticker stream repeats it every second: the
            # one ticker the market-data actor got on subscribing may have been published
            # before the grid subscribed, and a grid starts on its first price.
            admin(loopback, "/admin/price", {"symbol": "BTC/USDT", "price": "60000"})
            if not all_trading(env, [GRID_NAME]):
                return False
            # Every level placed (6 buys, 6 sells around the empty one at 60000) and no
            # request in flight: the faults are for the orders the test causes.
            grid = grid_status(env)[GRID_NAME]
            return bool(
                grid["phase"] == "running"
                and grid["open_orders"] == FULL_BOOK
                and grid["requests_pending"] == 0
            )

        wait_for(
            settled,
            90,
            "the grid trades on the loopback, every level placed",
            run,
            detail=lambda: grid_status(env),
        )
        # Each price crosses one level: the fill's counter order meets the fault.
        for fault, price in FAULTS:
            order = {"kind": fault, "method": "POST", "path": "/api/v3/order", "retry_after": 1}
            admin(loopback, "/admin/faults", order)
            admin(loopback, "/admin/price", {"symbol": "BTC/USDT", "price": price})
            wait_for(
                lambda: admin(loopback, "/admin/faults")["pending"] == [],
                60,
                f"the loopback answered an order placement with {fault}",
                run,
                detail=lambda: grid_status(env),
            )
        wait_for(
            lambda: cycles(env).get(GRID_NAME, 0) >= 1,
            60,
            "a cycle through both",
            run,
            detail=lambda: grid_status(env),
        )

        statuses = [r["status"] for r in admin(loopback, "/admin/request_log")["requests"]]
        assert (statuses.count(429), statuses.count(418)) == (1, 1)

        def counted() -> Samples | None:
            samples = scrape(port)
            codes = [
                account_value(samples, "gridsup_exchange_http_errors_total", code=c)
                for c in ("429", "418")
            ]
            return samples if codes == [1.0, 1.0] else None

        samples = wait_for(counted, 30, "429 and 418 counted in /metrics", run)
        assert account_value(samples, "gridsup_exchange_request_weight_limit") == 6000
        assert account_value(samples, "gridsup_exchange_reachable") == 1
        banned_until = account_value(samples, "gridsup_exchange_banned_until_timestamp_seconds")
        assert banned_until is not None and abs(banned_until - time.time()) < 120
        for actor in ("execution", "market_data"):
            labels = frozenset({"exchange": "binance", "actor": actor}.items())
            assert samples[("gridsup_exchange_stream_connected", labels)] == 1, actor
        requests = len(admin(loopback, "/admin/request_log")["requests"])
        timed = account_value(samples, "gridsup_exchange_request_latency_seconds_count")
        assert timed is not None and 0 < timed <= requests  # the execution actor's share
        inf = account_value(samples, "gridsup_exchange_request_latency_seconds_bucket", le="+Inf")
        below_10s = account_value(
            samples, "gridsup_exchange_request_latency_seconds_bucket", le="10.0"
        )
        assert inf == timed and below_10s is not None and 0 < below_10s <= timed

        # The database side: commit time and the write queue are real figures too.
        writer = frozenset({"actor": "persistence"}.items())
        assert samples[("gridsup_persistence_write_seconds_count", writer)] > 0
        assert samples[("gridsup_persistence_write_seconds_sum", writer)] > 0
        assert ("gridsup_persistence_queue_depth", writer) in samples

        metric, used, last = wait_for(
            lambda: weight_compared(loopback, port),
            90,
            "a still minute with weight",
            run,
            detail=lambda: (
                admin(loopback, "/admin/request_log")["requests"][-10:],
                account_value(scrape(port), "gridsup_exchange_request_weight_used"),
            ),
        )
        assert abs(metric - used) <= last, (metric, used, last)
    finally:
        run.interrupt()
        assert run.wait(90) == 0, run.stderr()[-3000:]

    # The supervisor's alert rules saw them too (the log is where alerts go without URLs).
    err = run.stderr()
    assert "exchange_rate_limited" in err and "exchange_banned" in err
    assert KEYS[SECRET_ENV] not in run.stdout() + err
    assert_books_balance(env, loopback)


def assert_books_balance(env: GridsEnv, url: str) -> None:
    """Every asset on the exchange equals the start plus what `gridsup stats` reports
    (plus trades of orders left open that filled after the stop: none, the price is
    still)."""
    db = read_database(env.db_url, [GRID_NAME])
    stats = env.gridsup("stats", "--db", env.db_url, "--json")
    assert stats.returncode == 0, stats.stderr
    change = {a: Decimal(v) for a, v in json.loads(stats.stdout)["balance_change"].items()}
    expected = dict(START)
    for asset, amount in change.items():
        expected[asset] = expected.get(asset, Decimal(0)) + amount
    balance = admin(url, "/admin/balance")
    assert db.fills, "the run traded"
    for asset, amount in expected.items():
        free = Decimal(str(balance["free"].get(asset, 0)))
        used = Decimal(str(balance["used"].get(asset, 0)))
        assert free + used == amount, (asset, free, used, amount)
