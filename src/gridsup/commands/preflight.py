"""The preflight checks of ``gridsup start``: everything that can refuse a start which
could not work is found here, before a process is spawned. Not a subcommand: the steps
:func:`gridsup.commands.prepare.prepare` runs, in this order, cheapest first:

* the markets and order sizes: every enabled grid's symbol is listed (by the paper
  exchange or the real one), its levels do not collide on the tick size, its smallest
  order is above the market's minimum; the live key variables are set, the paper account
  covers the grids, a replayed market has its candle files;
* the database: reachable, then migrated (``gridsup start`` runs the Alembic upgrade so
  the persistence actor never has to);
* the grid locks: none is held (a held one means the grid runs elsewhere).

Every refusal is a :class:`gridsup.app.StartRefused` carrying its exit code (see
:mod:`gridsup.app`). The exchange and the database are imported only when a check needs
them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from gridsup.actors.run_config import Mode
from gridsup.app import EXIT_CONFIG, EXIT_RUNTIME, StartRefused, enabled_grids
from gridsup.config import GridsFile
from gridsup.exchange.markets import PAPER_EXCHANGE_ID, UnknownMarket, paper_market
from gridsup.messages.market import MarketInfo

if TYPE_CHECKING:
    from gridsup.strategy.grid.config import GridConfig

log = structlog.get_logger("gridsup.preflight")


# -- markets and order sizes ------------------------------------------------------------


def paper_markets(grids: GridsFile) -> dict[str, MarketInfo]:
    """The built-in markets of every enabled grid's symbol.

    Raises:
        StartRefused: a symbol the paper exchange does not list (exit 2).
    """
    markets: dict[str, MarketInfo] = {}
    problems: list[str] = []
    for grid in enabled_grids(grids):
        try:
            markets[grid.symbol] = paper_market(grid.symbol)
        except UnknownMarket as exc:
            problems.append(f'{grids.path}: grid "{grid.name}": symbol: {exc}')
    if problems:
        raise StartRefused("\n".join(problems))
    return markets


async def exchange_markets(
    grids: GridsFile,
    url_overrides: Mapping[str, str] | None = None,
    mode: Mode | None = None,
) -> dict[str, MarketInfo]:
    """Every enabled grid's market from the exchange (ccxt public ``load_markets``, no keys).

    Live (``mode``), the venue must also be one gridsup can trade on safely
    (:func:`gridsup.commands.venue_check.check_venue`).

    Raises:
        StartRefused: an unknown symbol (exit 2), or the exchange did not answer (exit 1).
    """
    from gridsup.exchange.ccxt.exchange import CcxtExchange
    from gridsup.exchange.errors import ExchangeError
    from gridsup.exchange.retry import RetryPolicy

    try:
        exchange = CcxtExchange(
            grids.exchange.id,
            sandbox=grids.exchange.sandbox,
            url_overrides=url_overrides,
            # A start refused after ~2 s beats one that hangs: the operator retries.
            retry=RetryPolicy(attempts=3, base_delay=0.5),
        )
    except ExchangeError as exc:
        raise StartRefused(f"{grids.path}: exchange: id: {exc}") from None
    if mode is not None:
        # refused before any request when no dialect exists (ccxt's flags are static)
        from gridsup.commands.venue_check import check_venue

        try:
            check_venue(grids, mode, exchange.capabilities(), {})
        except StartRefused:
            await exchange.close()
            raise
    try:
        listed = await exchange.load_markets()
    except ExchangeError as exc:
        log.error("markets_unavailable", exchange=grids.exchange.id, error=repr(exc))
        raise StartRefused(
            f"exchange {grids.exchange.id}: cannot load its markets: {exc}", EXIT_RUNTIME
        ) from None
    finally:
        await exchange.close()
    has = exchange.capabilities()
    markets: dict[str, MarketInfo] = {}
    problems: list[str] = []
    for grid in enabled_grids(grids):
        if grid.symbol in listed:
            markets[grid.symbol] = listed[grid.symbol]
        else:
            problems.append(
                f'{grids.path}: grid "{grid.name}": symbol: {grids.exchange.id} '
                f"lists no spot market {grid.symbol}"
            )
    if problems:
        raise StartRefused("\n".join(problems))
    if mode is not None:
        from gridsup.commands.venue_check import check_venue

        check_venue(grids, mode, has, markets)
    return markets


def order_problems(grid: GridConfig, market: MarketInfo) -> list[str]:
    """Why ``grid`` cannot trade on ``market``: levels colliding on the tick size, or its
    smallest order below the market's minimum amount or notional (empty when fine)."""
    from gridsup.strategy.levels import GridLevelsError, calculate_order_size, grid_levels

    try:
        levels = grid_levels(grid, market)
    except GridLevelsError as exc:
        return [f"levels: {exc}"]
    amounts = calculate_order_size(grid, levels, market.amount_step)
    problems: list[str] = []
    # Slot k buys at levels[k] and sells the same amount at levels[k + 1]: the buy is
    # the smaller notional, so checking it covers both.
    slot = min(range(len(amounts)), key=lambda k: amounts[k])
    if market.min_amount is not None and amounts[slot] < market.min_amount:
        problems.append(
            f"order size: the order at level {slot} ({levels[slot]}) is {amounts[slot]} "
            f"{market.base}, below the market minimum amount {market.min_amount} {market.base}"
            ": raise total_investment or use fewer levels"
        )
    if market.min_notional is not None:
        notional = min(a * p for a, p in zip(amounts, levels, strict=False))
        if notional < market.min_notional:
            problems.append(
                f"order size: the smallest order is worth {notional.quantize(Decimal('0.01'))} "
                f"{market.quote}, below the market minimum notional {market.min_notional} "
                f"{market.quote}: raise total_investment or use fewer levels"
            )
    return problems


def check_orders(grids: GridsFile, markets: Mapping[str, MarketInfo]) -> None:
    """Raises:
    StartRefused: a grid whose orders the exchange would refuse (exit 2), naming the
        grid and the minimum.
    """
    problems = [
        f'{grids.path}: grid "{grid.name}": {problem}'
        for grid in enabled_grids(grids)
        for problem in order_problems(grid, markets[grid.symbol])
    ]
    if problems:
        raise StartRefused("\n".join(problems))


def check_paper_balances(grids: GridsFile) -> None:
    """In dry-run the grids must fit in the paper account they start with.

    Raises:
        StartRefused: the grids of one quote currency invest more than its balance.
    """
    needed: dict[str, Decimal] = {}
    for grid in enabled_grids(grids):
        needed[grid.quote] = needed.get(grid.quote, Decimal(0)) + grid.total_investment
    balances = grids.exchange.paper_balances
    problems = [
        f"{grids.path}: exchange: paper_balances: {quote} {balances.get(quote, 0)} is less "
        f"than the grids' total_investment {total} {quote}"
        for quote, total in sorted(needed.items())
        if balances.get(quote, Decimal(0)) < total
    ]
    if problems:
        raise StartRefused("\n".join(problems))


def replay_file(template: str, symbol: str) -> Path:
    """The candle file of ``symbol`` for a ``[market_data] file`` that may hold
    ``{symbol}`` (written ``BTC-USDT``), ``{base}`` or ``{quote}`` (as the market-data
    actor reads it)."""
    base, _, quote = symbol.partition("/")
    return Path(template.format(symbol=symbol.replace("/", "-"), base=base, quote=quote))


def check_market_source(grids: GridsFile) -> None:
    """A replayed market needs a candle file for every symbol; the paper exchange has
    no prices to poll.

    Raises:
        StartRefused: a file is missing or the source cannot work (exit 2).
    """
    from gridsup.config import MarketDataSource

    if grids.exchange.id == PAPER_EXCHANGE_ID and grids.market_source is MarketDataSource.EXCHANGE:
        raise StartRefused(
            f"{grids.path}: market_data: source: the paper exchange publishes no prices "
            'of its own: use "synthetic" or "replay", or a real exchange id with mode = "dry_run"'
        )
    file = grids.market_data.file
    if grids.market_source is not MarketDataSource.REPLAY or file is None:
        return
    problems = []
    for symbol in sorted({g.symbol for g in enabled_grids(grids)}):
        try:
            path = replay_file(str(file), symbol)
        except (KeyError, IndexError, ValueError) as exc:
            problems.append(f"{grids.path}: market_data: file: bad placeholder in {file}: {exc}")
            break
        if not path.is_file():
            problems.append(f"{grids.path}: market_data: file: no candle file {path} for {symbol}")
    if problems:
        raise StartRefused("\n".join(problems))


def check_credentials(grids: GridsFile, mode: Mode) -> None:
    """Live trading needs its key variables set (their values are never read here).

    Raises:
        StartRefused: a named variable is unset (exit 2).
    """
    from gridsup.config import CredentialsError

    if mode is not Mode.LIVE:
        return
    try:
        grids.exchange.credentials()
    except CredentialsError as exc:
        raise StartRefused(f"{grids.path}: {exc}") from None


# -- the database and the locks -----------------------------------------------------------


async def prepare_database(url: str, source: str = "", explicit: bool = True) -> tuple[str, str]:
    """Connect, migrate to the newest schema, disconnect. A SQLite database is created
    when missing, its directory only when it is gridsup's data directory (``explicit``
    false: nobody wrote the URL); ``source`` names where the URL came from.

    Returns (the URL the actors use, the same without its password).

    Raises:
        StartRefused: a bad URL or a missing directory (exit 2), or a database that does
            not answer (exit 1).
    """
    from gridsup.commands.db import DatabaseTargetError, check_target
    from gridsup.store.database import Database
    from gridsup.store.errors import DatabaseConfigError, DatabaseUnavailable
    from gridsup.store.migrate import upgrade

    try:
        check_target(url, creates=True, explicit=explicit, source=source)
    except DatabaseTargetError as exc:
        raise StartRefused(str(exc), EXIT_CONFIG) from None
    try:
        db = Database(url)
        await db.connect()
    except DatabaseConfigError as exc:
        raise StartRefused(f"{source or 'database'}: {exc}", EXIT_CONFIG) from None
    except DatabaseUnavailable as exc:
        raise StartRefused(f"database: {exc}", EXIT_RUNTIME) from None
    try:
        await upgrade(db)
    except DatabaseConfigError as exc:
        raise StartRefused(f"database: {exc}", EXIT_CONFIG) from None
    except DatabaseUnavailable as exc:
        raise StartRefused(f"database: {exc}", EXIT_RUNTIME) from None
    finally:
        await db.disconnect()
    return db.url.render_as_string(hide_password=False), db.safe_url


async def check_grid_locks(db_url: str, grid_ids: Sequence[str]) -> None:
    """Take and give back every grid's lock: a held one means the grid runs elsewhere.

    A grid could still be taken between this check and its actor's start; the actor's
    own lock (held for its whole life) is what guarantees invariant 1, this check only
    turns the common case into a clear refusal before anything is spawned.

    Raises:
        StartRefused: a lock is held (exit 2) or the database stopped answering (exit 1).
    """
    from gridsup.store.database import Database
    from gridsup.store.errors import DatabaseConfigError, DatabaseUnavailable
    from gridsup.store.locks import grid_lock

    db = Database(db_url)
    busy: list[str] = []
    try:
        await db.connect()
        url = db.url.render_as_string(hide_password=False)
        for grid_id in grid_ids:
            lock = grid_lock(url, grid_id)
            if await lock.acquire():
                await lock.release()
            else:
                busy.append(grid_id)
    except DatabaseConfigError as exc:
        raise StartRefused(f"database: {exc}", EXIT_CONFIG) from None
    except (DatabaseUnavailable, OSError) as exc:
        raise StartRefused(f"grid locks: {exc}", EXIT_RUNTIME) from None
    finally:
        await db.disconnect()
    if busy:
        raise StartRefused(
            "\n".join(f"grid {name} is running elsewhere (its lock is held)" for name in busy)
        )
