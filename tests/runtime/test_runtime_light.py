"""A strategy actor process stays light: the runtime plus gridsup.strategy must not
import ccxt, pandas or SQLAlchemy. Checked in a fresh interpreter (a child), so nothing
the test process imported can hide a regression."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ["ccxt", "pandas", "sqlalchemy"]

CHILD = """
import json, pkgutil, sys, importlib
import gridsup.runtime.actor, gridsup.runtime.entry, gridsup.runtime.sockets
import gridsup.messages.control, gridsup.messages.market, gridsup.messages.orders
import gridsup.messages.store
import gridsup.strategy
# Every module of the strategy package, whoever wrote it.
for mod in pkgutil.walk_packages(gridsup.strategy.__path__, "gridsup.strategy."):
    importlib.import_module(mod.name)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)))
print(json.dumps(sorted(m for m in sys.modules if m.startswith("gridsup.strategy"))))
"""


def test_runtime_plus_strategy_imports_no_ccxt_pandas_or_sqlalchemy() -> None:
    result = subprocess.run(
        [sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{CHILD}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    heavy_line, strategy_line = result.stdout.splitlines()[-2:]
    assert json.loads(heavy_line) == []
    assert "gridsup.strategy" in json.loads(strategy_line)
