"""Alerts: what an operator must be told, and the message that tells the supervisor.

Every alert goes through the supervisor (one place, so that a crash loop cannot flood a
phone): the supervisor derives most causes itself from its children's states and
heartbeats, and any actor may raise one with :class:`AlertRaised` on its report socket
(PUSH -> the supervisor's PULL, beside Ready/Heartbeat/Failed). The supervisor
deduplicates and rate-limits by (cause, subject): one message per cause and subject per
window, and a summary when it clears.

A grid also raises a typed :class:`GridAlert` when it gives something up for good (an
order refused permanently: the slot stays empty) or stops; the strategy actor turns it
into an :class:`AlertRaised` for the supervisor. Temporary refusals raise none: they are
retried and shown as waiting.
"""

from __future__ import annotations

import enum

import msgspec


class AlertCause(enum.Enum):
    """Why an operator is told. Values are stable: they name alerts in messages, logs
    and the ``gridsup_alerts_total`` metric."""

    STOP_LOSS_HIT = "stop_loss_hit"
    TAKE_PROFIT_HIT = "take_profit_hit"
    GRID_STOPPED = "grid_stopped"  # stopped or aborted for another reason
    SLOT_GIVEN_UP = "slot_given_up"  # a level the exchange or the market's limits refused
    RECONCILIATION_MISMATCH = "reconciliation_mismatch"
    ACTOR_RESTARTING = "actor_restarting"  # more than N restarts in M minutes
    ACTOR_FAILED = "actor_failed"  # restart intensity exceeded: given up
    EXCHANGE_UNREACHABLE = "exchange_unreachable"
    EXCHANGE_RATE_LIMITED = "exchange_rate_limited"  # HTTP 429
    EXCHANGE_BANNED = "exchange_banned"  # HTTP 418 / IP ban
    EXCHANGE_AUTH_REFUSED = "exchange_auth_refused"
    DATABASE_UNREACHABLE = "database_unreachable"
    DISK_LOW = "disk_low"
    MEMORY_LOW = "memory_low"


class AlertSeverity(enum.Enum):
    WARNING = "warning"
    CRITICAL = "critical"


class AlertRaised(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """An actor tells the supervisor of an alert-worthy condition.

    ``subject`` is what it is about (a grid, an actor, an exchange account): alerts
    are deduplicated per (cause, subject). ``active = False`` says the condition has
    cleared (the supervisor then sends a summary, if it had alerted).
    """

    actor: str
    pid: int
    cause: AlertCause
    subject: str
    detail: str = ""
    severity: AlertSeverity = AlertSeverity.WARNING
    active: bool = True


class AlertKind(enum.Enum):
    LEVEL_REFUSED = "level_refused"  # a slot's order refused for good: the slot is empty
    GRID_STOPPED = "grid_stopped"  # stop-loss/take-profit, or the exit sell refused


class GridAlert(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    grid: str
    kind: AlertKind
    reason: str
    timestamp: int  # ms
    slot: int | None = None  # -1: a market order
