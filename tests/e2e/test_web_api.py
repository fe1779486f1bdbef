"""The dashboard's JSON API against a real `gridsup start --web` in paper mode: the fleet
lists every grid of the run, the history pages come from the database, the actions pause,
resume and stop a grid as `gridsup status` then shows, with an audit row each; and bad
input (an unknown grid, a wrong token, an action on a stopped grid) is a clear HTTP error
that changes nothing. The run ends with the books checked against the paper exchange."""

from __future__ import annotations

from decimal import Decimal

from e2e_books import implied_and_held, missing_fills, read_paper_books
from e2e_run import (
    BALANCES,
    FAST_ARGS,
    FAST_MARKETS,
    fast_grids_file,
    names,
    status,
    wait_for,
)
from e2e_support import FAST_GRIDS, GridsEnv
from web_support import (
    TOKEN,
    audit_rows,
    cycling_with_dashboard,
    fill_count,
    order_ids,
    request,
)


def grid_row(env: GridsEnv, grid: str) -> dict[str, object]:
    reply = status(env) or {}
    return next((r for r in reply.get("grids", ()) if r["grid"] == grid), {})


def test_the_api_shows_the_fleet_and_acts_with_checks_and_audit(env: GridsEnv) -> None:
    run, base = cycling_with_dashboard(env)

    # The fleet: every grid of the run, with its range, price position and figures.
    code, fleet = request(f"{base}/api/fleet")
    assert code == 200
    rows = {r["grid"]: r for r in fleet["grids"]}
    assert set(rows) == set(names())
    for grid in FAST_GRIDS:
        row = rows[str(grid["name"])]
        assert row["symbol"] == grid["symbol"] and row["state"] == "trading"
        assert Decimal(row["lower"]) == Decimal(str(grid["lower_price"]))
        assert row["price"] is not None and row["position"] is not None
        assert row["open_orders"] > 0 and row["levels"] == grid["num_grids"]
    assert fleet["totals"]["grids"] == len(FAST_GRIDS)
    code, openapi = request(f"{base}/api/openapi.json")
    assert code == 200 and "/api/fleet" in openapi["paths"]

    # One grid: levels, chart, history pages from the database.
    code, one = request(f"{base}/api/grids/btc-fast")
    assert code == 200 and len(one["levels"]) == 13 and "recon_orphans" in one["reconciliation"]
    code, chart = request(f"{base}/api/grids/btc-fast/chart")
    assert code == 200 and chart["source"] == "ticks" and chart["ticks"] and chart["fills"]
    assert chart["open_orders"]
    code, page = request(f"{base}/api/grids/btc-fast/orders?offset=0&limit=3")
    assert code == 200 and len(page["items"]) == 3 and page["total"] >= 12
    # The grid trades on between the two requests: the cursor keeps the pages apart.
    code, page2 = request(f"{base}/api/grids/btc-fast/orders?before={page['next']}&limit=3")
    assert code == 200 and len(page2["items"]) == 3
    assert {o["client_order_id"] for o in page["items"]}.isdisjoint(
        o["client_order_id"] for o in page2["items"]
    )
    assert page["items"][-1]["timestamp"] >= page2["items"][0]["timestamp"]
    assert request(f"{base}/api/grids/btc-fast/orders?before=x.y")[0] == 400
    code, fills = request(f"{base}/api/grids/btc-fast/fills?limit=500")
    assert code == 200 and fills["total"] == len(fills["items"]) >= 2

    # Bad input: clear errors, nothing changed, nothing audited.
    assert request(f"{base}/api/grids/nope")[0] == 404
    assert request(f"{base}/api/grids/btc-fast/orders?limit=x")[0] == 400
    code, body = request(f"{base}/api/grids/eth-fast/pause", "POST", token="wrong")
    assert code == 401 and body["error"] == "unauthorized"
    assert request(f"{base}/api/grids/eth-fast/pause", "POST")[0] == 401  # no token
    assert audit_rows(env.db_url) == []
    assert grid_row(env, "eth-fast")["state"] == "trading"

    # Pause: no new orders while paused (fills of its open ones go on), then resume.
    code, body = request(f"{base}/api/grids/eth-fast/pause", "POST", token=TOKEN)
    assert code == 200 and body["outcome"] == "done"
    wait_for(lambda: grid_row(env, "eth-fast").get("state") == "paused", 30, "paused", run)
    paused_ids = order_ids(env.db_url, "eth-fast")
    fills_then = fill_count(env.db_url, "btc-fast")
    wait_for(lambda: fill_count(env.db_url, "btc-fast") > fills_then + 1, 60, "market moves", run)
    assert order_ids(env.db_url, "eth-fast") == paused_ids  # nothing new placed
    code, body = request(f"{base}/api/grids/eth-fast/pause", "POST", token=TOKEN)
    assert code == 409 and "paused already" in body["detail"]
    assert env.gridsup("pause", "eth-fast").returncode == 2  # the CLI's same check
    code, _ = request(f"{base}/api/grids/eth-fast/resume", "POST", token=TOKEN)
    assert code == 200
    wait_for(lambda: grid_row(env, "eth-fast").get("state") == "trading", 30, "resumed", run)
    wait_for(lambda: order_ids(env.db_url, "eth-fast") > paused_ids, 60, "trades again", run)

    # Stop one grid; an action on it then is refused (409) and changes nothing.
    code, _ = request(f"{base}/api/grids/sol-fast/stop", "POST", token=TOKEN)
    assert code == 200
    wait_for(lambda: grid_row(env, "sol-fast").get("state") == "stopped", 30, "stopped", run)
    code, body = request(f"{base}/api/grids/sol-fast/resume", "POST", token=TOKEN)
    assert code == 409 and body["outcome"] == "refused" and "stopped" in body["detail"]
    code, body = request(f"{base}/api/grids/nope/pause", "POST", token=TOKEN)
    assert code == 404 and body["outcome"] == "unknown_grid"
    assert grid_row(env, "sol-fast")["state"] == "stopped"
    done = env.gridsup("resume", "sol-fast", "--json")
    assert done.returncode == 2 and '"refused"' in done.stdout

    expected = [
        ("pause", "eth-fast", "done"),
        ("pause", "eth-fast", "refused"),
        ("pause", "eth-fast", "refused"),
        ("resume", "eth-fast", "done"),
        ("stop", "sol-fast", "done"),
        ("resume", "sol-fast", "refused"),
        ("pause", "nope", "unknown_grid"),
        ("resume", "sol-fast", "refused"),
    ]
    wait_for(lambda: len(audit_rows(env.db_url)) == len(expected), 30, "audit rows", run)
    rows_ = audit_rows(env.db_url)
    assert [r[1:] for r in rows_] == expected
    actors = [r[0] for r in rows_]
    assert actors[0].startswith("token:") and TOKEN not in "".join(actors)
    assert actors[2] == "cli"
    code, audit = request(f"{base}/api/audit?grid=sol-fast")
    assert code == 200 and [e["outcome"] for e in audit["entries"]][-1] == "done"

    run.interrupt()
    assert run.wait(90) == 0, run.stderr()[-3000:]
    # Money adds up: the paper account holds what the stored fills imply.
    db, exchange = read_paper_books(env.db_url, names())
    assert missing_fills(exchange, db, names()) == []
    implied, held = implied_and_held(exchange, db.fills, BALANCES, FAST_MARKETS)
    assert implied == held


def test_a_non_loopback_address_without_a_token_is_refused(env: GridsEnv) -> None:
    run = env.start(str(fast_grids_file(env)), *FAST_ARGS, "--web", "0.0.0.0:1")
    assert run.wait(60) == 2
    assert "GRIDSUP_WEB_TOKEN" in run.stderr()


def test_grid_commands_without_a_supervisor_exit_3_with_json(env: GridsEnv) -> None:
    for command in ("pause", "resume", "stop-grid"):
        done = env.gridsup(command, "btc-fast", "--json", "--timeout", "2")
        assert done.returncode == 3, done.stderr
        assert '"outcome": "no_supervisor"' in done.stdout and "Traceback" not in done.stderr
