"""`gridsup export` over a real database holding fills with quote, base and BNB fees:
every fee's quote value, round trips that add up, totals equal to `gridsup stats`, and a
database that is never created by reading."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from gridsup.cli import cli
from gridsup.messages.common import Side
from gridsup.store.database import Database
from gridsup.store.fills import FillRepository
from gridsup.store.migrate import upgrade
from gridsup.store.records import FillRecord, TradeRecord
from gridsup.store.trades import TradeRepository, trade_profit

D = Decimal


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


FILLS = [
    # (trade id, side, price, amount, fee, fee asset)
    ("1", Side.BUY, "60000", "0.01", "0.6", "USDT"),  # quote fee
    ("2", Side.SELL, "61000", "0.01", "0.00001", "BTC"),  # base fee: 0.61 USDT
    ("3", Side.BUY, "59000", "0.02", "0.002", "BNB"),  # BNB fee: needs its price
]
TRIPS = [
    # (amount, open, close, fee): profit = (close - open) * amount - fee
    ("0.01", "60000", "61000", "1.21"),
    ("0.02", "59000", "58500", "2.35"),  # a loss
]


async def seed(url: str) -> None:
    async with Database(url) as db:
        await upgrade(db)
        async with db.session() as session:
            fills = FillRepository(session)
            for i, (tid, side, price, amount, fee, asset) in enumerate(FILLS):
                await fills.add(
                    FillRecord(
                        exchange="binance",
                        trade_id=tid,
                        symbol="BTC/USDT",
                        side=side,
                        price=D(price),
                        amount=D(amount),
                        timestamp=1_704_067_200_000 + i * 60_000,
                        fee=D(fee),
                        fee_currency=asset,
                        client_order_id=f"gsabc{tid}",
                        strategy="btc",
                    )
                )
            trades = TradeRepository(session)
            records = []
            for i, (amount, open_, close, fee) in enumerate(TRIPS):
                profit = trade_profit(Side.BUY, D(amount), D(open_), D(close), D(fee))
                records.append(
                    TradeRecord(
                        exchange="binance",
                        strategy="btc",
                        symbol="BTC/USDT",
                        amount=D(amount),
                        open_price=D(open_),
                        open_order_id=f"gsb{i}",
                        opened_at=1_704_067_200_000 + i,
                        close_price=D(close),
                        close_order_id=f"gss{i}",
                        closed_at=1_704_070_800_000 + i,
                        fee=D(fee),
                        profit=profit,
                    )
                )
            await trades.add_closed_many(records)


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'export.db'}"
    asyncio.run(seed(url))
    return url


def test_every_fee_is_valued_in_quote_in_the_asset_it_was_charged(url: str) -> None:
    done = run("export", "fills", "--db", url, "--fee-price", "BNB=600")

    assert done.exit_code == 0, done.output
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [(r["fee_asset"], D(r["fee_quote"])) for r in rows] == [
        ("USDT", D("0.6")),
        ("BTC", D("0.61")),  # at the fill's price
        ("BNB", D("1.2")),  # at --fee-price
    ]
    assert rows[0]["time"] == "2024-01-01T00:00:00.000+00:00"
    assert rows[1]["side"] == "sell" and D(rows[1]["value"]) == D("610")


def test_a_third_currency_fee_without_its_price_is_left_blank(url: str) -> None:
    rows = list(csv.DictReader(io.StringIO(run("export", "fills", "--db", url).stdout)))

    assert rows[2]["fee_asset"] == "BNB" and rows[2]["fee"] == "0.002"
    assert rows[2]["fee_quote"] == ""


def test_round_trip_totals_equal_stats_in_csv_and_parquet(url: str, tmp_path: Path) -> None:
    stats = json.loads(run("stats", "--json", "--db", url).stdout)
    out = tmp_path / "trips.parquet"

    done = run("export", "round-trips", "--db", url, "-o", str(out), "--json")

    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["trades"] == stats["trades"] == 2
    assert D(summary["total_profit"]) == D(stats["total_profit"]) == D("8.79") + D("-12.35")
    assert D(summary["fees"]) == D(stats["fees"]) == D("3.56")
    frame = pd.read_parquet(out)
    assert list(frame["realized_profit"]) == [D("8.79"), D("-12.35")]
    assert list(frame["cost_basis"]) == [D("600"), D("1180")]
    assert list(frame["proceeds"]) == [D("610"), D("1170")]
    assert str(frame["closed"].dt.tz) == "UTC"
    rows = list(csv.DictReader(io.StringIO(run("export", "round-trips", "--db", url).stdout)))
    assert sum(D(r["realized_profit"]) for r in rows) == D(stats["total_profit"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--fee-price", "BNB"), "ASSET=PRICE"),
        (("--fee-price", "BNB=-1"), "ASSET=PRICE"),
        (("--json",), "--output"),
    ],
)
def test_bad_input_exits_2_with_one_line(url: str, args: tuple[str, ...], message: str) -> None:
    done = run("export", "fills", "--db", url, *args)

    assert done.exit_code == 2 and message in done.output
    assert "Traceback" not in done.output


def test_reading_never_creates_a_database(tmp_path: Path) -> None:
    path = tmp_path / "absent" / "gridsup.db"

    done = run("export", "round-trips", "--db", f"sqlite:///{path}")

    assert done.exit_code == 2 and "no database" in done.output
    assert not path.parent.exists()


def test_json_errors_are_json(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"

    done = run("export", "fills", "--db", f"sqlite:///{path}", "--json", "-o", str(tmp_path / "f"))

    assert done.exit_code == 2
    assert json.loads(done.stdout) == {
        "error": f"no database at {path}: nothing to export (run `gridsup start` first)",
        "code": 2,
    }
    assert not path.exists()
