"""The live account check of ``gridsup start`` (issue 14): before any order, the keys
are tried (one private request), the key's trade permission read, and every grid that
starts afresh must find the quote it invests free on the account.

A grid with a saved state is not counted: its money is already in its open orders
(locked) or in the base its sells hold, and reconciliation takes it from there. Grids
of one quote asset share that asset's free balance, so a shortfall names every grid
that shares it, with what they need and what is there. Every refusal is exit 2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

import structlog

from gridsup.app import EXIT_RUNTIME, StartRefused, enabled_grids
from gridsup.config import GridsFile

log = structlog.get_logger("gridsup.preflight")


def balance_problems(
    path: str,
    needs: Sequence[tuple[str, str, Decimal]],
    free: Mapping[str, Decimal],
) -> list[str]:
    """Shortfalls of ``needs`` (grid, asset, amount) against the ``free`` balances."""
    by_asset: dict[str, list[tuple[str, Decimal]]] = {}
    for grid, asset, amount in needs:
        by_asset.setdefault(asset, []).append((grid, amount))
    problems: list[str] = []
    for asset, grids in sorted(by_asset.items()):
        needed = sum((amount for _, amount in grids), Decimal(0))
        available = free.get(asset, Decimal(0))
        if available >= needed:
            continue
        shared = ", ".join(name for name, _ in grids)
        for name, amount in grids:
            problems.append(
                f'{path}: grid "{name}": balance: needs {amount} {asset} free, the account '
                f"has {available} {asset} free"
                + (f" for {needed} {asset} of grids {shared}" if len(grids) > 1 else "")
            )
    return problems


async def check_live_account(
    grids: GridsFile, db_url: str, url_overrides: Mapping[str, str] | None = None
) -> None:
    """Keys, trade permission and free balances of the live account.

    Raises:
        StartRefused: keys refused, no trade permission, a balance too small (exit 2);
            the exchange or the database did not answer (exit 1).
    """
    from gridsup.exchange.ccxt.exchange import CcxtExchange
    from gridsup.exchange.errors import AuthenticationError, ExchangeError
    from gridsup.exchange.retry import RetryPolicy

    settings = grids.exchange
    fresh = await _fresh_grids(db_url, [g.name for g in enabled_grids(grids)])
    exchange = CcxtExchange.from_env(
        settings.id,
        settings.api_key_env,
        settings.api_secret_env,
        password_env=settings.password_env,
        sandbox=settings.sandbox,
        url_overrides=url_overrides,
        retry=RetryPolicy(attempts=3, base_delay=0.5),
    )
    try:
        balance, can_trade = await exchange.fetch_account()
    except AuthenticationError as exc:
        raise StartRefused(
            f"{grids.path}: exchange: api_key_env: {settings.id} refused the key in "
            f"{settings.api_key_env}: {exc}"
        ) from None
    except ExchangeError as exc:
        log.error("account_unavailable", exchange=settings.id, error=repr(exc))
        raise StartRefused(
            f"exchange {settings.id}: cannot read the account: {exc}", EXIT_RUNTIME
        ) from None
    finally:
        await exchange.close()
    if can_trade is False:
        raise StartRefused(
            f"{grids.path}: exchange: api_key_env: the key in {settings.api_key_env} may not "
            f"trade on {settings.id} (canTrade is false): enable spot trading for it"
        )
    needs = [(g.name, g.quote, g.total_investment) for g in enabled_grids(grids) if g.name in fresh]
    problems = balance_problems(str(grids.path), needs, balance.free)
    if problems:
        raise StartRefused("\n".join(problems))


async def _fresh_grids(db_url: str, names: Sequence[str]) -> set[str]:
    """The grids without a saved state (they start from nothing).

    Raises:
        StartRefused: the database did not answer (exit 1).
    """
    from gridsup.store.database import Database
    from gridsup.store.errors import DatabaseUnavailable
    from gridsup.store.state import DatabaseStateStore

    db = Database(db_url)
    try:
        await db.connect()
        store = DatabaseStateStore(db)
        return {name for name in names if await store.revision(name) is None}
    except (DatabaseUnavailable, OSError) as exc:
        raise StartRefused(f"database: {exc}", EXIT_RUNTIME) from None
    finally:
        await db.disconnect()
