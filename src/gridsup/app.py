"""What ``gridsup start`` does before the supervisor runs: a grids file becomes a
:class:`~gridsup.actors.run_config.RunConfig` and the supervisor's child specs, after
preflight checks (:mod:`gridsup.commands.preflight`) that refuse a start which could not
work.

Every refusal is a :class:`StartRefused` carrying its exit code:

* ``EXIT_CONFIG`` (2): a bad grids file, an unknown symbol, an order below the market's
  minimum, levels that collide on the tick size, a bad database URL, missing API key
  variables, or a grid whose lock is held (it runs elsewhere);
* ``EXIT_RUNTIME`` (1): the database or the exchange did not answer.

The checks run in this order, cheapest first: the file (:func:`load`, here), then, in
:mod:`gridsup.commands.preflight`, the markets and order sizes, the database (reachable,
then migrated: ``gridsup start`` runs the Alembic upgrade so the persistence actor never
has to), then the grid locks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from gridsup.actors.run_config import (
    EXECUTION_ACTOR,
    MARKET_DATA_ACTOR,
    PERSISTENCE_ACTOR,
    GridSpec,
    Mode,
    RunConfig,
    strategy_actor_name,
)
from gridsup.config import ExchangeMode, GridsFile, GridsFileError, load_grids_file
from gridsup.exchange.markets import PAPER_EXCHANGE_ID
from gridsup.messages.market import MarketInfo
from gridsup.supervisor.spec import ChildSpec, Group, Policy

if TYPE_CHECKING:
    from gridsup.strategy.grid.config import GridConfig

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_CONFIG = 2

# Actor kinds (ChildSpec.kind): the keys of supervisor.spec.DEFAULT_POLICIES.
KIND_PERSISTENCE = "persistence"
KIND_EXECUTION = "execution"
KIND_MARKET_DATA = "market_data"
KIND_STRATEGY = "strategy"
INFRA_KINDS = frozenset({KIND_PERSISTENCE, KIND_EXECUTION, KIND_MARKET_DATA})

# Strategy actors restart at once after a crash (recovery is their normal start path and
# a grid without its actor trades nothing), then back off exponentially; twelve restarts
# cover about a minute of backoff before the grid is given up on (and alerted).
STRATEGY_POLICY = Policy(
    ready_timeout=30.0, backoff_base=0.02, backoff_max=30.0, max_restarts=12, restart_period=120.0
)
# A strategy actor's heartbeat costs about 0.25 ms of CPU (its process and its ZeroMQ
# thread woken), nearly all of an idle fleet's CPU. Past this many heartbeats a second
# for the whole fleet, the interval grows with it (1,000 grids: every 5 s, 5 % of one
# core in all): a hung grid is then found after three intervals, a crashed one still at
# once (its process sentinel), and `gridsup status` shows its fields as of its last one.
FLEET_HEARTBEATS_PER_S = 200.0


def fleet_policy(policy: Policy, grids: int) -> Policy:
    """``policy`` for one of ``grids`` strategy actors: its heartbeat interval stretched
    to keep the fleet within :data:`FLEET_HEARTBEATS_PER_S` (and the supervisor's
    silence that makes an actor leave, orphaned, at least four of its intervals)."""
    interval = grids / FLEET_HEARTBEATS_PER_S
    if interval <= policy.heartbeat_interval:
        return policy
    return replace(
        policy,
        heartbeat_interval=interval,
        # The supervisor beats at least every supervisor_timeout / 4 (runner.BeatPlan).
        supervisor_timeout=max(policy.supervisor_timeout, 4 * interval),
    )


# The same for the idle resync (a snapshot query after 30 s without events, should an
# order update have been lost): at most about this many a second for the fleet.
FLEET_RESYNCS_PER_S = 10.0
_RESYNC_IDLE_S = 30.0  # the strategy actor's own default


def fleet_strategy_kwargs(grids: int) -> dict[str, object]:
    """Extra keyword arguments of a strategy actor in a fleet of ``grids``: its idle
    resync spaced out past :data:`FLEET_RESYNCS_PER_S` (1,000 grids: every 100 s)."""
    idle = grids / FLEET_RESYNCS_PER_S
    return {"resync_idle_s": idle} if idle > _RESYNC_IDLE_S else {}


# In a cluster a grid's new owner may start its copy while the old owner still holds the
# grid's lock (a handover, or a dead member's sessions not ended yet): EXIT_LOCKED (75)
# is then the normal answer, retried with backoff (capped at 2 s) until the lock is free,
# not a reason to give up. The placement loop starts a fresh copy if this one fails.
CLUSTER_STRATEGY_POLICY = Policy(
    ready_timeout=30.0,
    backoff_base=0.1,
    backoff_max=2.0,
    max_restarts=60,
    restart_period=120.0,
    fatal_exit_codes=frozenset(),
)
# A cluster member's lock timings (see RunConfig.lock_*): a check every second that may
# take 2 s, and the server frees a silent member's locks after 10 s idle.
CLUSTER_LOCK_CHECK_S, CLUSTER_LOCK_TIMEOUT_S, CLUSTER_LOCK_IDLE_S = 1.0, 2.0, 10.0

# Live polling period (ms) when neither the command line nor [streams] sets one.
DEFAULT_POLL_INTERVAL_MS = 1000
# Orders per second the execution actor sends in dry-run (to the paper engine).
PAPER_RATE_LIMIT = 1000.0

_INTERVAL = re.compile(r"^([1-9][0-9]*)([smhdw])$")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


class StartRefused(Exception):
    """``gridsup start`` cannot run; ``code`` is the exit code, the message says why
    (file, grid, field) and never holds a password."""

    def __init__(self, message: str, code: int = EXIT_CONFIG) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class StartOptions:
    """What the command line adds to the grids file."""

    dry_run: bool = False  # force DRY-RUN whatever [exchange] mode says
    db_url: str | None = None  # wins over GRIDSUP_DB_URL and [database] url
    tick_interval_ms: int = 1000
    poll_interval_ms: int | None = None  # None: [streams] fallback_poll_ms, else 1000
    url_overrides: Mapping[str, str] | None = None  # ccxt urls['api'] (loopback tests)
    exchange_url: str | None = None  # the loopback's base URL: overrides per venue
    start_prices: Mapping[str, Decimal] = field(default_factory=dict)
    rate_limit_per_s: float | None = None  # None: 10/s live, PAPER_RATE_LIMIT in dry-run
    member: str | None = None  # start --cluster: this member's name


def load(path: str | Path) -> GridsFile:
    """Load the grids file.

    Raises:
        StartRefused: every problem of the file, one line each (exit 2).
    """
    try:
        grids = load_grids_file(path)
    except GridsFileError as exc:
        raise StartRefused(str(exc)) from None
    enabled = [g for g in grids.grids if g.enabled]
    if not enabled:
        raise StartRefused(f"{grids.path}: no enabled [[grid]] to run")
    return grids


def interval_ms(interval: str) -> int:
    """``"1m"`` -> 60000.

    Raises:
        ValueError: not ``<count><s|m|h|d|w>``.
    """
    match = _INTERVAL.match(interval)
    if match is None:
        raise ValueError(f"interval {interval!r}: want e.g. 1m, 15m, 1h")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


def enabled_grids(grids: GridsFile) -> tuple[GridConfig, ...]:
    return tuple(g for g in grids.grids if g.enabled)


# -- the run ----------------------------------------------------------------------------


def run_mode(grids: GridsFile, options: StartOptions) -> Mode:
    if options.dry_run or grids.exchange.id == PAPER_EXCHANGE_ID:
        return Mode.DRY_RUN
    return Mode.LIVE if grids.exchange.mode is ExchangeMode.LIVE else Mode.DRY_RUN


def poll_interval_ms(grids: GridsFile, options: StartOptions) -> int:
    """The live polling period: ``--poll-interval-ms``, else ``[streams]
    fallback_poll_ms``, else 1000."""
    if options.poll_interval_ms is not None:
        return options.poll_interval_ms
    return grids.streams.fallback_poll_ms or DEFAULT_POLL_INTERVAL_MS


def build_run_config(
    grids: GridsFile,
    markets: Mapping[str, MarketInfo],
    options: StartOptions,
    *,
    run_dir: str,
    db_url: str,
) -> RunConfig:
    """The resolved run handed to every actor.

    Raises:
        StartRefused: the market data interval cannot be read (exit 2).
    """
    md = grids.market_data
    try:
        candle_ms = interval_ms(md.interval)
    except ValueError as exc:
        raise StartRefused(f"{grids.path}: market_data: interval: {exc}") from None
    exchange = grids.exchange
    streams = grids.streams
    specs = tuple(
        GridSpec(
            name=grid.name,
            grid_id=grid.name,  # ids.grid_tag() hashes it into the client order ids
            symbol=grid.symbol,
            config=grid.model_dump(mode="json"),
            budget_quote=grid.total_investment,
        )
        for grid in enabled_grids(grids)
    )
    run = RunConfig(
        run_dir=run_dir,
        exchange_id=exchange.id,
        mode=run_mode(grids, options),
        db_url=db_url,
        markets={symbol: markets[symbol] for symbol in sorted({g.symbol for g in specs})},
        grids=specs,
        paper_balances=dict(exchange.paper_balances),
        paper_history=exchange.paper_history,
        paper_lenient=exchange.paper_lenient,
        api_key_env=exchange.api_key_env,
        api_secret_env=exchange.api_secret_env,
        password_env=exchange.password_env,
        sandbox=exchange.sandbox,
        url_overrides=dict(options.url_overrides) if options.url_overrides else None,
        market_source=grids.market_source.value,
        market_file=str(md.file) if md.file is not None else None,
        start_prices=dict(options.start_prices),
        seed=md.seed,
        tick_interval_ms=options.tick_interval_ms,
        candle_ms=candle_ms,
        speed=md.speed,
        volatility=md.volatility,
        poll_interval_ms=poll_interval_ms(grids, options),
        # The account-wide order rate limit protects a real account from a ban; the
        # paper engine has none to respect (dry-run orders never reach the exchange).
        rate_limit_per_s=(
            options.rate_limit_per_s
            if options.rate_limit_per_s is not None
            else (PAPER_RATE_LIMIT if run_mode(grids, options) is Mode.DRY_RUN else 10.0)
        ),
        request_weight_limit=exchange.weight_limit,
        request_budget_share=exchange.weight_share,
        user_stream=streams.user,
        market_stream=streams.market,
        stream_keepalive_ms=streams.keepalive_ms,
        stream_stale_ms=streams.stale_ms,
        stream_audit_s=streams.audit_s,
        stream_fallback_after=streams.fallback_after,
        stream_retry_s=streams.retry_s,
    )
    if options.member is None:
        return run
    return msgspec.structs.replace(
        run,
        member=options.member,
        lock_check_s=CLUSTER_LOCK_CHECK_S,
        lock_timeout_s=CLUSTER_LOCK_TIMEOUT_S,
        lock_idle_timeout_s=CLUSTER_LOCK_IDLE_S,
    )


def strategy_run(run: RunConfig, grid: GridSpec) -> RunConfig:
    """The run as the strategy actor of ``grid`` gets it: its own grid and its own
    symbol's market only. The actor needs nothing of the other grids, and a fleet of a
    hundred would otherwise unpickle every grid's config in every one of its processes."""
    return msgspec.structs.replace(
        run, grids=(grid,), markets={grid.symbol: run.markets[grid.symbol]}
    )


def child_specs(
    run: RunConfig,
    policies: Mapping[str, Policy] | None = None,
    persistence_kwargs: Mapping[str, object] | None = None,
    *,
    strategies: bool = True,
) -> list[ChildSpec]:
    """The supervisor's children in start order: persistence, execution, market data,
    then one strategy actor per grid (given :func:`strategy_run`). ``policies`` (by kind)
    replace the defaults (``supervisor.spec.DEFAULT_POLICIES``, and
    :data:`STRATEGY_POLICY` for grids); a large fleet's strategy heartbeats are spaced
    out (:func:`fleet_policy`)."""
    chosen = {KIND_STRATEGY: STRATEGY_POLICY, **(policies or {})}
    chosen[KIND_STRATEGY] = fleet_policy(chosen[KIND_STRATEGY], len(run.grids))

    def spec(
        name: str,
        kind: str,
        module: str,
        group: Group,
        kwargs: Mapping[str, object],
        child_run: RunConfig = run,
    ) -> ChildSpec:
        return ChildSpec(
            name=name,
            kind=kind,
            target=f"gridsup.actors.{module}.actor:build",
            args=(child_run,),
            kwargs=dict(kwargs),
            group=group,
            policy=chosen.get(kind),
        )

    specs = [
        spec(
            PERSISTENCE_ACTOR,
            KIND_PERSISTENCE,
            "persistence",
            Group.PERSISTENCE,
            persistence_kwargs or {},
        ),
        spec(EXECUTION_ACTOR, KIND_EXECUTION, "execution", Group.EXECUTION, {}),
        spec(MARKET_DATA_ACTOR, KIND_MARKET_DATA, "market_data", Group.MARKET_DATA, {}),
    ]
    specs += [
        spec(
            strategy_actor_name(grid.name),
            KIND_STRATEGY,
            "grid",
            Group.STRATEGY,
            {"grid_name": grid.name, **fleet_strategy_kwargs(len(run.grids))},
            strategy_run(run, grid),
        )
        for grid in run.grids
        if strategies
    ]
    return specs


def cluster_strategy_specs(run: RunConfig) -> dict[str, ChildSpec]:
    """grid name -> its strategy actor's spec, for a cluster member's placement loop
    (the member starts only the grids placed on it, with :data:`CLUSTER_STRATEGY_POLICY`)."""
    specs = child_specs(run, {KIND_STRATEGY: CLUSTER_STRATEGY_POLICY})
    strategies = [spec for spec in specs if spec.kind == KIND_STRATEGY]
    return {grid.name: spec for grid, spec in zip(run.grids, strategies, strict=True)}
