"""The dashboard's pages in a real headless Chromium (Debian's `chromium`, driven by
Playwright's Python package; no browser download) against a real `gridsup start --web`
in paper mode: the fleet page shows every grid of the run and updates live, a grid page
draws its chart with levels, open orders and fills, and a grid paused from the page
(confirmation dialog, token) is paused in `gridsup status`.

Set GRIDSUP_WEB_SCREENSHOTS=DIR to keep the pages' screenshots (docs/ holds two)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_run import names, status, wait_for
from e2e_support import FAST_GRIDS, GridsEnv
from web_support import TOKEN, audit_rows, cycling_with_dashboard

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser_page() -> Iterator[Any]:
    """A page of a fresh Chromium profile; skips (fails under CI) without chromium."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (scripts/test installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    profile = tempfile.mkdtemp(prefix="gridsup-chromium-")
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,  # the fresh profile is passed as --user-data-dir by Playwright
            viewport={"width": 1400, "height": 820},
        )
        context.set_default_timeout(30_000)
        errors: list[str] = []
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.errors = errors
        try:
            yield page
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


def _shot(page: Any, name: str) -> None:
    where = os.environ.get("GRIDSUP_WEB_SCREENSHOTS")
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(where) / name), full_page=True)


def test_the_pages_show_the_fleet_live_chart_a_grid_and_pause_it(
    env: GridsEnv, browser_page: Any
) -> None:
    page = browser_page
    run, base = cycling_with_dashboard(env)

    # The fleet page: every grid of the run, one row each.
    page.goto(f"{base}/")
    page.wait_for_function(
        f"document.querySelectorAll('#fleet tbody tr').length == {len(FAST_GRIDS)}"
    )
    shown = page.eval_on_selector_all("#fleet tbody tr", "rs => rs.map(r => r.dataset.grid)")
    assert sorted(shown) == sorted(names())
    assert page.text_content("#fleet tr[data-grid='btc-fast'] td[data-col='symbol']") == "BTC/USDT"

    # Live: the price cell changes without a reload (the wave moves every 20 ms).
    cell = "#fleet tr[data-grid='btc-fast'] td[data-col='price']"
    first = page.text_content(cell)
    page.wait_for_function(f'document.querySelector("{cell}").textContent != {first!r}')
    assert int(page.evaluate("document.body.dataset.updates")) >= 2
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1

    # Sort by symbol descending, filter to one grid.
    page.click("th[data-key='symbol']")
    page.click("th[data-key='symbol']")
    order = "[...document.querySelectorAll('#fleet tbody tr')].map(r => r.dataset.grid).join()"
    page.wait_for_function(f"{order} == 'sol-fast,eth-fast,btc-fast'")  # drawn at the next frame
    page.fill("#filter", "eth")
    page.wait_for_function("document.querySelectorAll('#fleet tbody tr').length == 1")
    page.fill("#filter", "")
    page.wait_for_function(
        f"document.querySelectorAll('#fleet tbody tr').length == {len(FAST_GRIDS)}"
    )
    _shot(page, "web-fleet.png")

    # A grid page: the chart with its 13 levels, its open orders and its fills.
    page.click("#fleet tr[data-grid='btc-fast'] td[data-col='grid'] a")
    page.wait_for_selector("body[data-loaded='1']")
    chart = page.eval_on_selector("#chart", "e => ({...e.dataset})")
    assert chart["source"] == "ticks" and chart["levels"] == "13"
    assert int(chart["fills"]) >= 2 and int(chart["openOrders"]) > 0
    assert page.locator("#chart canvas").count() == 1
    assert int(page.eval_on_selector(".pager[data-for=fills] .info", "e => e.dataset.total")) >= 2
    _shot(page, "web-grid.png")

    # Pause from the page: the confirmation step, the token, then `gridsup status`.
    page.click("#actions button[data-act='pause']")
    assert "pause grid btc-fast?" in page.text_content("#confirm .what")
    page.fill("#confirm input[name=token]", TOKEN)
    page.click("#confirm-ok")
    page.wait_for_selector("#flash.ok")

    def paused() -> bool:
        reply = status(env) or {}
        return any(r["grid"] == "btc-fast" and r["state"] == "paused" for r in reply["grids"])

    wait_for(paused, 30, "btc-fast paused in gridsup status", run)
    table = env.gridsup("status").stdout
    assert any(line.startswith("btc-fast ") and " paused " in line for line in table.splitlines())
    page.wait_for_selector("#state[data-state='paused']")
    wait_for(lambda: audit_rows(env.db_url), 30, "the audit row", run)
    assert [r[1:] for r in audit_rows(env.db_url)] == [("pause", "btc-fast", "done")]

    page.goto(f"{base}/actors")
    page.wait_for_selector("tr[data-actor='grid-btc-fast']")
    assert page.locator("tr[data-actor='execution']").count() == 1
    assert page.errors == []
    run.interrupt()
    assert run.wait(90) == 0, run.stderr()[-3000:]
