"""bench/soak.py as a test: paper grids trading on an accelerated market (the real
preflight, supervisor, forkserver and actors; the bench's own sine-wave publisher), then
outcomes only, never times: the paper snapshot does not grow with the orders (its
retired client ids went to the store, against the same run's figure had it kept them),
rows per order are bounded and the per-grid rows do not multiply, nothing restarted, and
the paper account's holdings equal the opening balances plus what the stored fills moved,
per asset, fees included. The default run lasts about 40 s with 20 grids and a tight
paper history (so ids retire within it); the soak-marked one runs the bench's full 30
minutes with 100 grids ($GRIDSUP_SOAK_MINUTES to change) and also holds every process's
RSS flat within 5 % after the warm-up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "soak.py"


def run_soak(tmp_path: Path, timeout: float, **options: object) -> dict[str, Any]:
    out = tmp_path / "soak.json"
    args = [f"--{k.replace('_', '-')}={v}" for k, v in options.items()]
    done = subprocess.run(
        [sys.executable, str(BENCH), *args, "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    summary: dict[str, Any] = json.loads(out.read_text())["summary"]
    return summary


def assert_bounded(summary: dict[str, Any], min_orders: int) -> None:
    per_k = summary["per_1000_orders"]
    assert summary["restarts"] == 0
    assert {a: v["even"] for a, v in summary["holdings"].items()} == dict.fromkeys(
        summary["holdings"], True
    ), summary["holdings"]
    assert summary["orders_after_warmup"] >= min_orders
    # Ids retired, into the store; the snapshot lists only those since its last save.
    assert summary["retired_in_store"] > 0
    assert summary["paper_retired_listed"] <= 100
    # The snapshot grows by less than a third of what keeping the ids would add (and
    # that is noise: how many orders are open at the sample, the trade history's fill).
    kept = per_k["paper_snapshot_bytes_keeping_retired_ids"]
    assert kept > 10_000  # ~16 bytes a retired id, about one retired per order
    assert per_k["paper_snapshot_bytes"] < kept / 3
    # Rows per order: one order row, a couple of events, a fill, half a booked cycle;
    # the per-grid rows (states, leases) do not grow at all.
    assert per_k["rows_orders"] == pytest.approx(1000)
    assert per_k["rows_order_events"] <= 3000
    assert per_k["rows_fills"] <= 1100
    assert per_k["rows_trades"] <= 1000
    assert per_k["rows_strategy_states"] == per_k["rows_grid_leases"] == 0
    assert per_k["grid_states_bytes"] < 20_000


def test_a_short_soak_grows_by_the_work_not_by_the_time(tmp_path: Path) -> None:
    summary = run_soak(
        tmp_path,
        timeout=170,
        grids=20,
        minutes=0.6,
        period=6,
        sample=6,  # one sample per period: the same phase of the sine each time
        paper_history=50,
        warmup=0.3,
    )

    assert_bounded(summary, min_orders=300)


@pytest.mark.soak
@pytest.mark.timeout(3600)
def test_a_long_soak_keeps_memory_flat(tmp_path: Path) -> None:
    minutes = float(os.environ.get("GRIDSUP_SOAK_MINUTES", "30"))
    summary = run_soak(
        tmp_path,
        timeout=minutes * 60 + 900,
        grids=100,
        minutes=minutes,
        period=30,
        sample=30,
        paper_history=1000,
        # Past the execution actor's bounded caches filling up (10,000 final orders,
        # 10,000 recent retired ids: about 7 minutes here), the baseline of the RSS check.
        warmup=0.5,
    )

    assert_bounded(summary, min_orders=1000)
    assert summary["rss_worst_change"] <= 0.05, summary["rss"]
