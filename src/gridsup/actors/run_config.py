"""What ``gridsup start`` hands each trading actor: one picklable, msgspec-encodable
record of the run (the grids file resolved, markets loaded), plus the names of the
channels between the actors.

Secrets are not in here: the execution actor reads the API key and secret from the
environment variables *named* by ``api_key_env`` / ``api_secret_env``.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Any

import msgspec

from gridsup.messages.market import MarketInfo

# Channel endpoint names inside the run directory (RunDir.endpoint(name)).
STORE = "store"  # persistence ROUTER <- DEALERs of strategy and execution actors
ORDERS = "orders"  # execution ROUTER <- DEALERs of strategy actors
ORDER_UPDATES = "order_updates"  # execution PUB -> strategy SUBs, topic = grid name
MARKET = "market"  # market-data PUB -> SUBs, topic = symbol

# Actor names as the supervisor and `gridsup status` show them.
PERSISTENCE_ACTOR = "persistence"
EXECUTION_ACTOR = "execution"
MARKET_DATA_ACTOR = "market_data"

# The state key under which the execution actor persists its paper account.
PAPER_ACCOUNT_KEY = "__paper_account__"


def topic(name: str) -> bytes:
    """A PUB/SUB topic that matches exactly ``name`` (ZeroMQ matches prefixes, so a NUL
    terminator keeps "BTC/USDT" from receiving "BTC/USDTC")."""
    return name.encode() + b"\x00"


def strategy_actor_name(grid_name: str) -> str:
    return f"grid-{grid_name}"


class Mode(enum.Enum):
    LIVE = "live"
    DRY_RUN = "dry_run"


class CancelPolicy(enum.Enum):
    """What reconciliation does with a tracked order found cancelled (not by us)."""

    REPLACE = "replace"  # place it again
    DROP = "drop"  # forget it (the slot stays empty, reported)


class MismatchPolicy(enum.Enum):
    """What reconciliation does when more orders than the threshold disagree."""

    ALERT = "alert"  # alert and trade on
    ABORT = "abort"  # alert and stop that grid only


class GridSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One grid of the run."""

    name: str  # from grids.toml; the strategy actor is strategy_actor_name(name)
    grid_id: str  # the short id inside client order ids (gridsup.strategy.ids)
    symbol: str
    config: dict[str, Any]  # GridConfig.model_dump(mode="json"); re-validated in the child
    budget_quote: Decimal  # the most quote this grid may commit (invariant 7)


class RunConfig(msgspec.Struct, frozen=True, kw_only=True):
    """The whole run, resolved by `gridsup start` before any actor is spawned."""

    run_dir: str
    exchange_id: str  # "paper" or a ccxt id
    mode: Mode
    db_url: str
    markets: dict[str, MarketInfo]  # every grid's symbol, loaded/validated up front
    grids: tuple[GridSpec, ...]
    paper_balances: dict[str, Decimal] = msgspec.field(default_factory=dict)
    paper_history: int = 1000  # finished orders the paper account remembers
    # A new paper account follows Binance's rules (fees in the asset received, a crossing
    # limit order filled at once as taker) so that dry-run predicts live; True gives the
    # earlier, kinder rules (fees in quote, a crossing order rests), for tests that need them.
    paper_lenient: bool = False
    api_key_env: str | None = None
    api_secret_env: str | None = None
    password_env: str | None = None
    sandbox: bool = False
    url_overrides: dict[str, str] | None = None  # ccxt urls['api'] overrides (loopback tests)
    market_source: str = "synthetic"  # exchange | replay | synthetic
    market_file: str | None = None
    start_prices: dict[str, Decimal] = msgspec.field(default_factory=dict)  # synthetic walk
    seed: int = 0
    market_stream: bool = True  # market_source "exchange": by the ticker stream, REST fallback
    tick_interval_ms: int = 1000  # market data publish interval (exchange polling, synthetic)
    candle_ms: int = 60_000  # synthetic/replay: market time per candle
    speed: float = 1.0  # synthetic/replay pacing: candles per tick_interval relative speed
    volatility: float = 0.001
    poll_interval_ms: int = 1000  # execution actor: open-order/fill polling (live)
    # Live fills by the exchange's user-data stream; polling only as its fallback.
    user_stream: bool = True
    stream_keepalive_ms: int = 10_000  # ping interval of the websocket streams
    # Silent (no event, no pong) longer than this: a gap. None: keepalive + max(0.5 s, 50 %).
    stream_stale_ms: int | None = None
    stream_fallback_after: int = 3  # failed (re)connects in a row before polling takes over
    stream_retry_s: float = 30.0  # while polling: how often the stream is tried again
    stream_audit_s: float = 60.0  # on the stream: a REST reconcile this often all the same
    rate_limit_per_s: float = 10.0  # execution actor: one budget for the whole account
    # An account paused for refused keys is probed (one request) this often, no more.
    account_probe_s: float = 60.0
    # The host's request-weight budget (exchange/budget.py, docs/exchange.md): the
    # venue's weight limit per minute (None: its published one, e.g. 6000 on Binance;
    # no budget for a venue without one) and the share of it gridsup may use.
    request_weight_limit: int | None = None
    request_budget_share: float = 0.5
    cancel_policy: CancelPolicy = CancelPolicy.REPLACE
    mismatch_policy: MismatchPolicy = MismatchPolicy.ALERT
    mismatch_threshold: int = 3
    state_timeout_s: float = 5.0  # how long an actor waits for a store Ack before resending
    member: str | None = None  # this supervisor's cluster member name (start --cluster)
    # How often a strategy actor checks its grid lock's session, how long a check may
    # take, and (PostgreSQL) after how long idle the server ends a lock's session. A
    # cluster checks every second (a cut-off member stops within ~2 s) and lets the server
    # free a silent member's locks after 10 s (its grids move then, never before).
    lock_check_s: float = 5.0
    lock_timeout_s: float = 10.0
    lock_idle_timeout_s: float | None = None

    @property
    def dry_run(self) -> bool:
        return self.mode is Mode.DRY_RUN or self.exchange_id == "paper"

    def grid(self, name: str) -> GridSpec:
        """Raises:
        KeyError: no grid called ``name``."""
        for spec in self.grids:
            if spec.name == name:
                return spec
        raise KeyError(name)


RUN_CONFIG_CODEC = (msgspec.msgpack.Encoder(), msgspec.msgpack.Decoder(RunConfig))
