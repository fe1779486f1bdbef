"""Balance snapshots: written per asset, the newest read back per asset."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

from gridsup.exchange.types import Balance
from gridsup.store.balances import BalanceRepository
from gridsup.store.database import Database


async def test_latest_snapshot_per_asset(db: Database) -> None:
    first = Balance(free={"BTC": Decimal("1.5"), "USDT": Decimal(100)}, used={"BTC": Decimal(0)})
    later = Balance(free={"USDT": Decimal("0.0000000001")}, used={"USDT": Decimal(1000000000000)})
    async with db.session() as session:
        repo = BalanceRepository(session)
        assert await repo.record("binance", first, timestamp=1) == 2
        await repo.record("binance", later, timestamp=2)
        await repo.record("okx", later, timestamp=3)
    async with db.session() as session:
        latest = await BalanceRepository(session).latest("binance")
    assert {a: (s.free, s.used, s.total, s.timestamp) for a, s in latest.items()} == {
        "BTC": (Decimal("1.5"), Decimal(0), Decimal("1.5"), 1),
        "USDT": (
            Decimal("0.0000000001"),
            Decimal(1000000000000),
            Decimal("1000000000000.0000000001"),
            2,
        ),
    }


def test_importing_store_errors_does_not_load_sqlalchemy() -> None:
    code = "import gridsup.store.errors, sys; print('sqlalchemy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
