"""strategy/ stays light: a strategy process must not pull in ccxt, pandas, SQLAlchemy,
ZeroMQ or the store (DESIGN: hundreds of strategy actors per machine)."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = (
    "ccxt",
    "pandas",
    "numpy",
    "sqlalchemy",
    "zmq",
    "aiohttp",
    "gridsup.store",
    "gridsup.exchange",
)


def test_importing_the_strategy_layer_loads_nothing_heavy() -> None:
    code = (
        "import sys, json\n"
        "import gridsup.strategy.grid, gridsup.strategy.factory, gridsup.strategy.levels\n"
        "import gridsup.strategy.ids, gridsup.strategy.grid.book\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = json.loads(done.stdout)

    heavy = [m for m in loaded if m.split(".")[0] in FORBIDDEN or m.startswith(FORBIDDEN[-2:])]
    assert heavy == []
