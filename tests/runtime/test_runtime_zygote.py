"""The forkserver's zygote: actors forked from it skip the parent's main script and find
the preloaded objects frozen (out of the collector's sight, so their pages stay shared)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def test_forked_actor_skips_the_main_script_and_inherits_a_frozen_preload(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(HERE / "zygote_probe.py"), str(tmp_path)],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads((tmp_path / "probe.json").read_text())
    assert found["script_rerun"] is False
    assert found["frozen"] > 1000
