"""The loopback exchange as a process of its own (``python -m gridsup.exchange.loopback``),
for the tests that want it over real HTTP: started on port 0, its URL read from the line
it prints once it serves, stopped with SIGTERM (killed if it lingers)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

STOP_TIMEOUT_S = 10


@contextmanager
def loopback_process(
    *args: str, env: Mapping[str, str] | None = None, log: Path | None = None
) -> Iterator[str]:
    """The URL (``http://127.0.0.1:<port>``) of a loopback exchange run with ``args``.

    ``env``: the child's whole environment (default: this one); ``log``: a file for its
    stderr (default: discarded), quoted when it fails to start.
    """
    err = log.open("wb") if log is not None else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "-m", "gridsup.exchange.loopback", "--port", "0", *args],
        env=dict(env if env is not None else os.environ),
        stdout=subprocess.PIPE,
        stderr=err,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # blocks until the server prints (or exits)
        if not line.startswith("listening on http://127.0.0.1:"):
            said = log.read_text(errors="replace")[-2000:] if log is not None else ""
            pytest.fail(f"loopback exchange did not start ({proc.poll()=}): {line!r} {said}")
        yield line.split()[-1]
    finally:
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT_S)
        if proc.stdout is not None:
            proc.stdout.close()
        if not isinstance(err, int):
            err.close()
