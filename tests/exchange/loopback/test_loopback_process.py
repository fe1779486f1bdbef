"""The loopback exchange as a process (``python -m gridsup.exchange.loopback``) with the
real ccxt client, and import hygiene: only the ccxt adapter imports ccxt."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal

import pytest

from gridsup.exchange.ccxt.exchange import CcxtExchange
from gridsup.messages.common import OrderStatus, OrderType, Side

D = Decimal
KEY, SECRET = "process-test-key", "process-test-secret"


@pytest.fixture
def loopback_process() -> Iterator[str]:
    """Start the server on port 0; yield its URL from the line it prints."""
    env = {**os.environ, "LOOPBACK_API_KEY": KEY, "LOOPBACK_API_SECRET": SECRET}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gridsup.exchange.loopback",
            "--port",
            "0",
            "--price",
            "ETH/USDT=2500",
            "--balance",
            "USDT=1000",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # blocks until the server prints (or exits)
        assert line.startswith("listening on http://127.0.0.1:"), (line, proc.poll())
        yield line.split()[-1]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        assert code == 0, proc.stderr.read() if proc.stderr else code


async def test_ccxt_against_the_loopback_process(loopback_process: str) -> None:
    from gridsup.exchange.loopback import binance_url_overrides

    ex = CcxtExchange(
        "binance",
        api_key=KEY,
        secret=SECRET,
        url_overrides=binance_url_overrides(loopback_process),
        rate_limit_ms=1,
    )
    try:
        ticker = await ex.fetch_ticker("ETH/USDT")
        order = await ex.create_order(
            "ETH/USDT", Side.BUY, OrderType.LIMIT, D("0.1"), D("2400"), "proc1"
        )
        found = await ex.fetch_order("ETH/USDT", client_order_id="proc1")
        balance = await ex.fetch_balance()
    finally:
        await ex.close()

    assert ticker.last == D("2500")
    assert found.id == order.id and found.status is OrderStatus.OPEN
    assert balance.used["USDT"] == D("240")  # realistic: the buy's fee comes out of the ETH


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ([], {}, "LOOPBACK_API_KEY"),
        (
            ["--balance", "USDT=-1"],
            {"LOOPBACK_API_KEY": "k", "LOOPBACK_API_SECRET": "s"},
            "--balance",
        ),
        (["--host", "0.0.0.0"], {"LOOPBACK_API_KEY": "k", "LOOPBACK_API_SECRET": "s"}, "loopback"),
        (
            ["--price", "XRP/USDT=1"],
            {"LOOPBACK_API_KEY": "k", "LOOPBACK_API_SECRET": "s"},
            "symbol",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(
    args: list[str], env: dict[str, str], message: str
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LOOPBACK_")}
    result = subprocess.run(
        [sys.executable, "-m", "gridsup.exchange.loopback", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_only_the_ccxt_adapter_imports_ccxt() -> None:
    code = (
        "import sys\n"
        "import gridsup.exchange, gridsup.exchange.base, gridsup.exchange.errors\n"
        "import gridsup.exchange.types, gridsup.exchange.precision, gridsup.exchange.retry\n"
        "import gridsup.exchange.loopback\n"
        "assert 'ccxt' not in sys.modules, 'ccxt imported'\n"
        "import gridsup.exchange.ccxt.exchange\n"
        "assert 'ccxt' in sys.modules\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
