"""Helpers of the end-to-end tests: grids files written as TOML, `gridsup` run as a
real subprocess (its output kept in files so a pipe can never fill up and block it)."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from gridsup.runtime.liveness import process_alive
from loopback_process import loopback_process

GRIDSUP = [sys.executable, "-m", "gridsup"]

# Grids that cycle within seconds on a fast synthetic walk: +-5 % around the start
# price, levels about 1 % apart, budgets well above Binance's 5 USDT minimum notional.
FAST_GRIDS: tuple[dict[str, Any], ...] = (
    {
        "name": "btc-fast",
        "symbol": "BTC/USDT",
        "lower_price": 57000,
        "upper_price": 63000,
        "num_grids": 13,
        "total_investment": 2000,
    },
    {
        "name": "eth-fast",
        "symbol": "ETH/USDT",
        "lower_price": 2850,
        "upper_price": 3150,
        "num_grids": 11,
        "total_investment": 1500,
    },
    {
        "name": "sol-fast",
        "symbol": "SOL/USDT",
        "lower_price": "142.5",
        "upper_price": "157.5",
        "num_grids": 11,
        "total_investment": 1000,
        "initial_position": "none",
    },
)
START_PRICES = ("BTC/USDT=60000", "ETH/USDT=3000", "SOL/USDT=150")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def grids_toml(
    grids: Sequence[Mapping[str, Any]],
    *,
    exchange: Mapping[str, Any] | None = None,
    balances: Mapping[str, Any] | None = None,
    market_data: Mapping[str, Any] | None = None,
    database: Mapping[str, Any] | None = None,
) -> str:
    """A grids file's text."""
    lines = ["[exchange]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in (exchange or {"id": "paper"}).items()]
    if balances is not None:
        lines.append("[exchange.paper_balances]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in balances.items()]
    for name, table in (("market_data", market_data), ("database", database)):
        if table:
            lines.append(f"[{name}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    for grid in grids:
        lines.append("[[grid]]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in grid.items()]
    return "\n".join(lines) + "\n"


def live_grids_toml(
    grids: Sequence[Mapping[str, Any]], key_env: str, secret_env: str, venue: str = "binance"
) -> str:
    """A grids file's text trading ``grids`` live on ``venue`` with the keys the two
    environment variables hold, its prices from the exchange."""
    exchange = {"id": venue, "mode": "live", "api_key_env": key_env, "api_secret_env": secret_env}
    return grids_toml(grids, exchange=exchange, market_data={"source": "exchange"})


@dataclass
class Run:
    """A `gridsup start` subprocess."""

    proc: subprocess.Popen[bytes]
    out: Path
    err: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stdout(self) -> str:
        return self.out.read_text(errors="replace")

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def wait(self, timeout: float) -> int:
        """The exit code; SIGKILLs the run and raises when it did not exit in time."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"gridsup start did not exit within {timeout}s\n{self.stderr()[-4000:]}"
            ) from None

    def interrupt(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)

    def kill(self) -> None:
        """SIGKILL the run and, after a grace period to exit on their own, whatever it
        spawned (actors, forkserver): a failed test must not leave a grid locked."""
        if self.proc.poll() is not None:
            return
        import psutil

        try:
            tree = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            tree = []
        self.proc.kill()
        self.proc.wait(10)
        _, alive = psutil.wait_procs(tree, timeout=15)
        for proc in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()


@dataclass
class GridsEnv:
    """A test's private world: where files, data and sockets go."""

    tmp: Path
    data: Path
    run_base: Path
    environ: dict[str, str]
    runs: list[Run] = field(default_factory=list)
    _seq: int = 0

    @property
    def db_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.data / 'gridsup.db'}"

    def write(self, text: str, name: str = "grids.toml") -> Path:
        path = self.tmp / name
        path.write_text(text)
        return path

    def start(self, grids_file: Path | str, *args: str, extra_env: Mapping[str, str] = {}) -> Run:
        """`gridsup start --strategies grids_file args...` as a subprocess."""
        self._seq += 1
        out = self.tmp / f"start{self._seq}.out"
        err = self.tmp / f"start{self._seq}.err"
        with out.open("wb") as o, err.open("wb") as e:
            proc = subprocess.Popen(
                [*GRIDSUP, "start", "--strategies", str(grids_file), *args],
                stdout=o,
                stderr=e,
                env={**self.environ, **extra_env},
                start_new_session=True,  # a kill -9 of the test's group spares pytest
            )
        run = Run(proc, out, err)
        self.runs.append(run)
        return run

    def gridsup(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*GRIDSUP, *args],
            capture_output=True,
            text=True,
            env=self.environ,
            timeout=timeout,
            check=False,
        )

    def cleanup(self) -> None:
        for run in self.runs:
            run.kill()


def wait_gone(pids: Sequence[int], timeout: float) -> list[int]:
    """The pids still alive after ``timeout`` seconds (empty when all exited)."""
    deadline = time.monotonic() + timeout
    alive = [p for p in pids if process_alive(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [p for p in alive if process_alive(p)]
    return alive


@contextmanager
def e2e_loopback(env: GridsEnv, keys: Mapping[str, str], *args: str) -> Iterator[str]:
    """The URL of a loopback exchange process run with ``args``, its API keys (``keys``:
    environment variable -> value) in its environment, its stderr in ``loopback.err``."""
    with loopback_process(*args, env={**env.environ, **keys}, log=env.tmp / "loopback.err") as url:
        yield url


@contextmanager
def wave_loopback(env: GridsEnv, keys: Mapping[str, str], *args: str) -> Iterator[str]:
    """:func:`e2e_loopback` replaying a +-3 % wave on BTC/USDT around 60000 (a candle every
    80 ms), on an account of 10000 USDT."""
    wave = write_wave_candles(env.tmp, "BTC/USDT", Decimal(60000))
    replay = ("--replay", str(wave), "--symbol", "BTC/USDT", "--speed", "750")
    with e2e_loopback(env, keys, "--balance", "USDT=10000", *replay, *args) as url:
        yield url


def write_wave_candles(
    directory: Path, symbol: str, center: Decimal, count: int = 20_000, period: int = 40
) -> Path:
    """A candle file whose close swings +-3 % around ``center`` every ``period`` candles:
    a market that crosses every level near the middle of a +-5 % grid again and again, so
    cycles complete deterministically (a random walk may wander off for minutes).
    Written as ``<BASE>-<QUOTE>.csv``, the ``{symbol}`` name the replay source expects."""
    import math

    path = directory / f"{symbol.replace('/', '-')}.csv"
    start_ms = 1_704_067_200_000  # 2024-01-01 UTC
    amplitude = 0.03

    def price(i: int) -> Decimal:
        return (center * Decimal(1 + amplitude * math.sin(2 * math.pi * i / period))).quantize(
            Decimal("0.01")
        )

    lines = ["timestamp,open,high,low,close,volume"]
    for i in range(count):
        o, c = price(i), price(i + 1)
        lines.append(f"{start_ms + 60_000 * i},{o},{max(o, c)},{min(o, c)},{c},100")
    path.write_text("\n".join(lines) + "\n")
    return path
