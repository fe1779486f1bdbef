"""The store's commands end to end through click: db upgrade/current, orders/trades/stats,
data fetch; bad databases give one line and an exit code, never a traceback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gridsup.cli import cli
from gridsup.messages.common import OrderStatus, OrderType, Side
from gridsup.store.database import Database
from gridsup.store.fills import FillRepository
from gridsup.store.migrate import head_revision
from gridsup.store.orders import OrderRepository
from gridsup.store.records import FillRecord, OrderRecord
from gridsup.store.trades import TradeRepository
from postgres import scratch_database

from . import cli_fakes
from .conftest import require_postgres

SECRET = "hunter2-secret"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database: a SQLite file, or a fresh PostgreSQL database (a URL
    cannot carry a schema search path, so the CLI tests get a database of their own)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cli.db'}"
        return
    require_postgres()
    with scratch_database("gridsup_cli") as pg_url:
        yield pg_url


async def seed(url: str) -> None:
    async with Database(url) as db, db.session() as session:
        await OrderRepository(session).upsert(
            OrderRecord(
                exchange="binance", strategy="g1", client_order_id="gA1", symbol="BTC/USDT",
                side=Side.BUY, type=OrderType.LIMIT, status=OrderStatus.OPEN,
                price=Decimal("0.0000000001"), amount=Decimal("1000000000000"), timestamp=1,
            )
        )  # fmt: skip
        trades = TradeRepository(session)
        for close in ("110", "90"):
            trade = await trades.create(
                exchange="binance", strategy="g1", symbol="BTC/USDT", side=Side.BUY,
                amount=Decimal(1), open_price=Decimal(100), opened_at=1,
            )  # fmt: skip
            await trades.close(trade.id, price=Decimal(close), closed_at=2, fee=Decimal("0.1"))


def test_db_upgrade_and_current(url: str) -> None:
    before = run("db", "current", "--db", url)
    upgraded = run("db", "upgrade", "--db", url)
    after = run("db", "current", "--db", url)
    assert before.exit_code == 0 and "empty" in before.output
    assert upgraded.exit_code == 0 and head_revision() in upgraded.output
    assert after.output.strip() == f"{head_revision()} (head)"


def test_history_commands_read_the_database(url: str) -> None:
    assert run("db", "upgrade", "--db", url).exit_code == 0
    asyncio.run(seed(url))
    orders = run("orders", "--db", url, "--json")
    closed = run("trades", "--db", url, "--json", "--closed", "--strategy", "g1")
    stats = run("stats", "--db", url, "--json")
    table = run("orders", "--db", url)
    assert json.loads(orders.output)[0]["price"] == "0.0000000001"
    assert json.loads(orders.output)[0]["amount"] == "1000000000000"
    assert sorted(t["profit"] for t in json.loads(closed.output)) == ["-10.1", "9.9"]
    figures = json.loads(stats.output)
    assert (figures["trades"], figures["wins"], figures["win_rate"]) == (2, 1, "0.5000")
    assert (figures["total_profit"], figures["max_loss"]) == ("-0.2", "-10.1")
    assert table.exit_code == 0 and "gA1" in table.output


async def seed_fills(url: str) -> None:
    """A buy whose fee is in base, a sell whose fee is in BNB, another grid's quote fee."""
    async with Database(url) as db, db.session() as session:
        await FillRepository(session).add_many(
            [
                FillRecord(
                    exchange="binance", trade_id="1", symbol="BTC/USDT", side=Side.BUY,
                    price=Decimal(50000), amount=Decimal("0.01"), timestamp=1,
                    fee=Decimal("0.00001"), fee_currency="BTC", strategy="g1",
                ),
                FillRecord(
                    exchange="binance", trade_id="2", symbol="BTC/USDT", side=Side.SELL,
                    price=Decimal(55000), amount=Decimal("0.00999"), timestamp=2,
                    fee=Decimal("0.0009"), fee_currency="BNB", strategy="g1",
                ),
                FillRecord(
                    exchange="binance", trade_id="3", symbol="ETH/USDT", side=Side.BUY,
                    price=Decimal(3000), amount=Decimal("0.1"), timestamp=3,
                    fee=Decimal("0.3"), fee_currency="USDT", strategy="g2",
                ),
            ]
        )  # fmt: skip


def test_stats_show_fees_by_asset_and_the_balance_change_they_imply(url: str) -> None:
    assert run("db", "upgrade", "--db", url).exit_code == 0
    asyncio.run(seed_fills(url))

    every = json.loads(run("stats", "--db", url, "--json").output)
    one = json.loads(run("stats", "--db", url, "--json", "--strategy", "g1").output)
    table = run("stats", "--db", url)

    assert every["fees_by_asset"] == {"BNB": "0.0009", "BTC": "0.00001", "USDT": "0.3"}
    assert one["balance_change"] == {
        "BNB": "-0.0009",
        "BTC": "0",  # 0.01 bought, 0.00001 of it the fee, 0.00999 sold
        "USDT": "49.45",  # -500 + 549.45
    }
    assert table.exit_code == 0 and "fees_by_asset:BNB" in table.output


def test_history_on_a_database_never_upgraded_says_what_to_do(tmp_path: Path) -> None:
    result = run("trades", "--db", f"sqlite:///{tmp_path / 'new.db'}")
    assert result.exit_code == 2
    assert "gridsup db upgrade" in result.stderr


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["db", "upgrade", "--db", f"postgresql://postgres:{SECRET}@127.0.0.1:1/test"], 1,
         "127.0.0.1:1"),
        (["orders", "--db", f"postgresql+nodriver://postgres:{SECRET}@127.0.0.1/test"], 2,
         "nodriver"),
        (["stats", "--db", f"mysql://root:{SECRET}@127.0.0.1/x"], 2, "unsupported"),
    ],
)  # fmt: skip
def test_bad_databases_exit_with_one_line(args: list[str], code: int, says: str) -> None:
    result = run(*args)
    assert result.exit_code == code
    assert says in result.stderr
    assert SECRET not in result.stderr + result.output
    assert "Traceback" not in result.stderr + result.output


def test_data_fetch_fills_the_cache_once(tmp_path: Path) -> None:
    cli_fakes.CALLS.clear()
    args = ["data", "fetch", "BTC/USDT", "1m", "--since", "2024-01-01", "--until",
            "2024-01-02", "--cache-dir", str(tmp_path), "--exchange-factory",
            "store.cli_fakes:build"]  # fmt: skip
    first = run(*args)
    assert first.exit_code == 0, first.output
    assert "1440 candles from 2024-01-01 00:00 to 2024-01-01 23:59" in first.output
    assert (tmp_path / "binance" / "BTC-USDT" / "1m.parquet").exists()
    assert len(cli_fakes.CALLS) == 2  # 1000 + 440

    again = run(*args)
    assert again.exit_code == 0 and "1440 candles" in again.output
    assert len(cli_fakes.CALLS) == 2  # all from the cache


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["BTC/USDT", "1M", "--since", "2024-01-01"], "timeframe"),
        (["BTC/USDT", "1m", "--since", "yesterday"], "not a date"),
        (["BTC/USDT", "1m", "--since", "2024-01-02", "--until", "2024-01-01"], "after"),
        (["BTC/USDT", "1m", "--since", "2024-01-01", "--exchange", "nosuchex"], "nosuchex"),
    ],
)
def test_data_fetch_refuses_bad_input(args: list[str], says: str, tmp_path: Path) -> None:
    result = run("data", "fetch", *args, "--cache-dir", str(tmp_path))
    assert result.exit_code == 2
    assert says in result.output + result.stderr


def test_data_fetch_offline_says_the_network_is_the_cause(tmp_path: Path) -> None:
    # The real ccxt client, pointed at a port nobody listens on (it retries, then gives up).
    result = run(
        "data", "fetch", "BTC/USDT", "1m", "--since", "2024-01-01", "--cache-dir",
        str(tmp_path / "cache"), "--exchange-url", "http://127.0.0.1:1",
    )  # fmt: skip

    assert result.exit_code == 1
    assert "cannot reach the exchange: the network (or the exchange) is down" in result.stderr
    assert "Traceback" not in result.stderr
