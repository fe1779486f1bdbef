"""Offline end to end: `gridsup start` as a real process tree (supervisor, persistence,
execution with the paper exchange, synthetic market data, one strategy actor per grid)
on a real SQLite file. Orders appear, cycles complete, and at the end the database's
fills, orders, balances and booked cycles (the `trades` rows: count, exact profit and fee
sums) equal the paper exchange's own record and the grids' own figures; a second start on
the same grids is refused."""

from __future__ import annotations

from decimal import Decimal

from e2e_books import (
    fill_mismatches,
    implied_and_held,
    missing_fills,
    no_client_id_twice,
    order_mismatches,
    orphans,
    read_paper_books,
    status_is_a_prefix,
    trade_mismatches,
)
from e2e_run import (
    BALANCES,
    FAST_ARGS,
    FAST_MARKETS,
    all_trading,
    configs,
    cycles,
    fast_grids_file,
    grid_status,
    names,
    wait_for,
)
from e2e_support import FAST_GRIDS, GridsEnv

from gridsup.messages.common import Side


def test_several_grids_cycle_and_the_database_equals_the_paper_exchange(env: GridsEnv) -> None:
    # The lenient paper rules: the cycle oracle (cycles_from_exchange) models fees in quote.
    path = fast_grids_file(env, lenient=True)
    run = env.start(str(path), *FAST_ARGS)

    wait_for(
        lambda: all_trading(env, names(), min_cycles=1),
        120,
        "every grid cycles",
        run,
        detail=lambda: grid_status(env),
    )
    # A second supervisor on the same grids: refused by the grid locks (another run
    # directory) or by the supervisor pointer (the same one), with exit code 2.
    elsewhere = env.start(str(path), "--run-dir", str(env.run_base / "other"))
    same_dir = env.start(str(path))
    assert elsewhere.wait(60) == 2, elsewhere.stderr()
    assert "btc-fast is running elsewhere" in elsewhere.stderr()
    assert same_dir.wait(60) == 2, same_dir.stderr()
    assert "already runs" in same_dir.stderr()
    assert all_trading(env, names())  # the refused starts disturbed nothing
    table = env.gridsup("status").stdout
    assert "GRID" in table and "CYCLES" in table and "PROFIT" in table
    for grid in FAST_GRIDS:
        row = next(line for line in table.splitlines() if line.startswith(f"{grid['name']} "))
        assert str(grid["symbol"]) in row and "trading" in row
        assert " off " in row  # running without stops: not listening to ticks
    last = grid_status(env)  # the grids' own figures, just before the stop
    run.interrupt()
    assert run.wait(90) == 0, run.stderr()[-3000:]

    db, exchange = read_paper_books(env.db_url, names())
    assert len(db.fills) >= sum(1 for _ in names())  # every grid filled something
    assert no_client_id_twice(exchange) == []
    assert missing_fills(exchange, db, names()) == []
    assert fill_mismatches(exchange, db) == []
    assert order_mismatches(exchange, db) == []
    assert orphans(exchange, db, configs()) == []
    implied, held = implied_and_held(exchange, db.fills, BALANCES, FAST_MARKETS)
    assert implied == held
    for name in names():
        state = db.states[name]
        assert int(state["completed_cycles"]) >= last[name]["completed_cycles"] >= 1
        assert Decimal(str(state["realized_profit"])) >= Decimal(str(last[name]["realized_profit"]))
    # The booked cycles: every grid's `trades` rows (count, exact profit and fee sums, row
    # by row) equal the cycles the paper account's own trades imply, and so do the grid's
    # saved figures; what a grid reported while running is those of its first n cycles.
    assert all(db.trades_of(name) for name in names())  # every grid booked a cycle
    assert trade_mismatches(exchange, db, names()) == []
    for name in names():
        reported = (last[name]["completed_cycles"], Decimal(str(last[name]["realized_profit"])))
        assert status_is_a_prefix(exchange, db, name, *reported), (name, reported)


def test_the_synthetic_walk_default_trades_and_keeps_the_books(env: GridsEnv) -> None:
    run = env.start(str(fast_grids_file(env, synthetic=True)), *FAST_ARGS)

    wait_for(lambda: all_trading(env, names()), 90, "every grid trading", run)
    wait_for(lambda: sum(cycles(env).values()) > 0, 90, "a cycle somewhere", run)
    run.interrupt()
    assert run.wait(90) == 0, run.stderr()[-3000:]

    db, exchange = read_paper_books(env.db_url, names())
    assert exchange.trades and db.fills
    assert missing_fills(exchange, db, names()) == []
    assert fill_mismatches(exchange, db) == []
    assert orphans(exchange, db, configs()) == []
    # The default paper rules are Binance's: each fill's fee in the asset it received.
    received = {
        f.fee_currency == FAST_MARKETS[f.symbol][0 if f.side is Side.BUY else 1] for f in db.fills
    }
    assert received == {True}
    implied, held = implied_and_held(exchange, db.fills, BALANCES, FAST_MARKETS)
    assert implied == held
