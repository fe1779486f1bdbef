"""Helpers of the dashboard tests: a free loopback port, real HTTP requests, the audit
table and a grid's order ids read straight from the SQLite file."""

from __future__ import annotations

import json
import socket
import sqlite3
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from e2e_run import FAST_ARGS, all_trading, fast_grids_file, names, wait_for
from e2e_support import GridsEnv, Run

TOKEN = "test-token-3f9a"  # GRIDSUP_WEB_TOKEN of the runs
TOKEN_ENV = {"GRIDSUP_WEB_TOKEN": TOKEN}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cycling_with_dashboard(env: GridsEnv) -> tuple[Run, str]:
    """A fast run serving the dashboard on a free loopback port, and the dashboard's base
    URL, once it answers and every grid has cycled."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    run = env.start(
        str(fast_grids_file(env)), *FAST_ARGS, "--web", f"127.0.0.1:{port}", extra_env=TOKEN_ENV
    )
    wait_for(lambda: answers(f"{base}/api/fleet"), 60, "the dashboard answers", run)
    wait_for(lambda: all_trading(env, names(), min_cycles=1), 120, "every grid cycles", run)
    return run, base


def request(
    url: str, method: str = "GET", token: str | None = None, timeout: float = 10
) -> tuple[int, Any]:
    """(HTTP status, decoded JSON body or text) of a real request."""
    headers = {"Accept": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(
        url, method=method, headers=headers, data=b"" if method == "POST" else None
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, body, ctype = resp.status, resp.read(), resp.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        status, body, ctype = exc.code, exc.read(), exc.headers.get("Content-Type", "")
    if "json" in ctype:
        return status, json.loads(body)
    return status, body.decode(errors="replace")


def answers(url: str) -> bool:
    try:
        return request(url, timeout=2)[0] == 200
    except OSError:
        return False


def _db_path(db_url: str) -> Path:
    return Path(db_url.split(":///", 1)[1])


def audit_rows(db_url: str) -> list[tuple[str, str, str, str]]:
    """(actor, action, grid, outcome) of every audit row, oldest first."""
    with sqlite3.connect(_db_path(db_url)) as conn:
        try:
            rows = conn.execute("SELECT actor, action, grid, outcome FROM audit_log ORDER BY id")
            return [tuple(r) for r in rows.fetchall()]
        except sqlite3.OperationalError:
            return []


def order_ids(db_url: str, grid: str) -> set[str]:
    """Client ids of every order of ``grid`` the database knows."""
    with sqlite3.connect(_db_path(db_url)) as conn:
        rows = conn.execute("SELECT client_order_id FROM orders WHERE strategy = ?", (grid,))
        return {r[0] for r in rows.fetchall()}


def fill_count(db_url: str, grid: str) -> int:
    with sqlite3.connect(_db_path(db_url)) as conn:
        row = conn.execute("SELECT count(*) FROM fills WHERE strategy = ?", (grid,)).fetchone()
        return int(row[0])
