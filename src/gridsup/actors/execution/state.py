"""What the execution actor keeps across restarts, and how it opens its account.

Two saved states, both through the persistence actor: the paper account's snapshot
(``PAPER_ACCOUNT_KEY``, dry-run only) and the ledger of grid positions that budgets are
computed from (``EXECUTION_STATE_KEY``). Both are loaded before the actor reports Ready;
a state that cannot be read stops the start (never conclude "empty" from an error).
The paper account's retired client ids live in the store beside its snapshot: their
floors are read with the snapshot, single ids are looked up when a placement needs it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import msgspec
import structlog

from gridsup.actors.execution.budget import Budgets, Position
from gridsup.actors.execution.outbox import StoreLink
from gridsup.actors.execution.ratelimit import TokenBucket
from gridsup.actors.execution.venue import LiveVenue
from gridsup.actors.request_budget import run_budget
from gridsup.actors.run_config import PAPER_ACCOUNT_KEY, RunConfig
from gridsup.exchange.errors import ExchangeUnavailable
from gridsup.exchange.paper.engine import PaperExchange
from gridsup.exchange.paper.fees import FeeMode, FeePolicy
from gridsup.exchange.paper.snapshot import split_buckets
from gridsup.exchange.streams import UserStream
from gridsup.messages.store import Ack, FindRetiredIds, LoadState, RetiredIdsFound, StateLoaded

log = structlog.get_logger("gridsup.actors.execution")

EXECUTION_STATE_KEY = "__execution__"


def paper_bucket_key(bucket: int) -> str:
    """The saved state that holds bucket ``bucket`` of the paper account's orders and
    trades (its split snapshot's core is ``PAPER_ACCOUNT_KEY``: docs/paper.md)."""
    return f"{PAPER_ACCOUNT_KEY}/{bucket:02d}"


class StateUnavailable(RuntimeError):
    """The store refused to hand over a saved state (the Ack names its error)."""


class Ledger(msgspec.Struct, kw_only=True):
    """The execution actor's own saved state."""

    version: int = 1
    positions: dict[str, Position] = msgspec.field(default_factory=dict)


_ledger_encoder = msgspec.json.Encoder(decimal_format="string")
_ledger_decoder = msgspec.json.Decoder(Ledger)


def encode_ledger(budgets: Budgets) -> bytes:
    return _ledger_encoder.encode(Ledger(positions=budgets.positions))


async def _load(link: StoreLink, key: str) -> StateLoaded:
    reply = await link.load(LoadState(request_id=uuid.uuid4().hex, grid_id=key))
    if not isinstance(reply, StateLoaded):
        error = reply.error if isinstance(reply, Ack) else type(reply).__name__
        raise StateUnavailable(f"state {key!r} could not be loaded: {error}")
    return reply


async def load_ledger(link: StoreLink, budgets: Budgets) -> int:
    """Restore grid positions into ``budgets``; the saved version (0: none).

    Raises:
        StateUnavailable: the store could not read it.
        msgspec.DecodeError: it is not a ledger.
    """
    loaded = await _load(link, EXECUTION_STATE_KEY)
    if loaded.state is not None:
        budgets.positions.update(_ledger_decoder.decode(loaded.state).positions)
    return loaded.version


async def load_paper(link: StoreLink, run: RunConfig) -> tuple[PaperExchange, int]:
    """The paper account as last saved (or a new one with the configured balances),
    and the saved version; either way it remembers ``run.paper_history`` finished
    orders from now on, and knows the floors of the ids it retired into the store.

    A new account follows Binance's rules, as the live path meets them: commission in
    the asset received (base for a buy), a limit order that crosses the last price
    filled at once as taker (``run.paper_lenient``: the earlier rules, fees in quote
    and crossing orders resting). A restored account keeps the rules it was opened
    with (its open buys locked their funds under them).

    Raises:
        StateUnavailable: the store could not read it.
        ValueError: the saved bytes are not a paper snapshot.
    """
    loaded = await _load(link, PAPER_ACCOUNT_KEY)
    if loaded.state is None:
        log.info(
            "paper_account_opened", balances={k: str(v) for k, v in run.paper_balances.items()}
        )
        paper = PaperExchange(
            run.markets,
            run.paper_balances,
            max_history=run.paper_history,
            fees=FeePolicy(mode=FeeMode.QUOTE if run.paper_lenient else FeeMode.RECEIVED),
            taker_on_cross=not run.paper_lenient,
        )
    else:
        paper = await _restore_paper(link, loaded.state)
        paper.max_history = run.paper_history
        log.info(
            "paper_account_restored", version=loaded.version, open_orders=len(paper.open_orders())
        )
    floors = await _find_retired(link, [], floors=True)
    paper.retired.learn_floors(floors.floors)
    return paper, loaded.version


async def _restore_paper(link: StoreLink, saved: bytes) -> PaperExchange:
    """The paper account saved as ``saved`` (see :func:`restore_saved_paper`), its
    buckets loaded through the persistence actor.

    Raises:
        StateUnavailable: the store could not read a bucket.
        ValueError: not a paper snapshot, or a bucket missing or of another save.
    """

    async def load(key: str) -> bytes | None:
        return (await _load(link, key)).state

    return await restore_saved_paper(saved, load)


async def restore_saved_paper(
    saved: bytes, load: Callable[[str], Awaitable[bytes | None]]
) -> PaperExchange:
    """The paper account whose state under ``PAPER_ACCOUNT_KEY`` is ``saved``: a whole
    snapshot (earlier releases), or a split one's core, whose buckets ``load`` reads by
    key (:func:`paper_bucket_key`; None when the store has none).

    Raises:
        ValueError: not a paper snapshot, or a bucket missing or of another save.
    """
    buckets = split_buckets(saved)
    if buckets is None:
        return PaperExchange.restore(saved)
    parts: dict[int, bytes] = {}
    for bucket in buckets:
        state = await load(paper_bucket_key(bucket))
        if state is not None:
            parts[bucket] = state
    return PaperExchange.restore_split(saved, parts)


async def _find_retired(
    link: StoreLink, client_order_ids: list[str], *, floors: bool = False, attempts: int = 0
) -> RetiredIdsFound:
    request = FindRetiredIds(
        request_id=uuid.uuid4().hex,
        account=PAPER_ACCOUNT_KEY,
        client_order_ids=client_order_ids,
        floors=floors,
    )
    reply = await link.load(request, attempts)
    if not isinstance(reply, RetiredIdsFound):
        error = reply.error if isinstance(reply, Ack) else type(reply).__name__
        raise StateUnavailable(f"retired client ids could not be read: {error}")
    return reply


async def retired_in_store(link: StoreLink, client_order_id: str) -> bool:
    """Whether the paper account retired ``client_order_id`` (the store's list).

    Raises:
        ExchangeUnavailable: the store did not answer twice in a row, or answered with
            an error: the placement is refused as retryable, and looked up again.
    """
    try:
        found = await _find_retired(link, [client_order_id], attempts=2)
    except (TimeoutError, StateUnavailable) as exc:
        raise ExchangeUnavailable(f"retired client ids not readable: {exc!r}") from exc
    return client_order_id in found.retired


async def open_live_venue(run: RunConfig, limiter: TokenBucket) -> LiveVenue:
    """Connect to the real exchange with the keys from the environment variables that
    the run names (the only place keys are read).

    Raises:
        AuthenticationError: a named variable is unset or empty.
        ExchangeError: the exchange did not answer the first request.
    """
    from gridsup.exchange.ccxt.exchange import CcxtExchange  # only the live path loads ccxt

    exchange = CcxtExchange.from_env(
        run.exchange_id,
        run.api_key_env,
        run.api_secret_env,
        password_env=run.password_env,
        sandbox=run.sandbox,
        url_overrides=run.url_overrides,
        budget=run_budget(run),  # shared with the market-data actor (request_budget.py)
    )
    await exchange.connect()
    return LiveVenue(exchange, limiter)


def open_user_stream(run: RunConfig) -> UserStream:
    """The account's user-data stream (ccxt.pro), keys from the environment as for
    :func:`open_live_venue`; it connects when followed.

    Raises:
        AuthenticationError: a named variable is unset or empty.
    """
    from gridsup.exchange.ccxt.client import credentials_from_env
    from gridsup.exchange.ccxt.streams import CcxtUserStream  # only the live path

    api_key, secret, _ = credentials_from_env(run.exchange_id, run.api_key_env, run.api_secret_env)
    return CcxtUserStream(
        run.exchange_id,
        api_key=api_key,
        secret=secret,
        sandbox=run.sandbox,
        url_overrides=run.url_overrides,
        keepalive_ms=run.stream_keepalive_ms,
    )
