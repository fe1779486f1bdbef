"""Alerts: typed events for something a person should hear of (issue 14).

A grid raises a :class:`GridAlert` when it gives something up for good (an order the
exchange or the market's limits refused permanently: the slot stays empty) and when it
stops; the strategy actor logs each one at error level (``grid_alert_raised``), counts
it in its status and hands it to its alert hook, which the alerting (apprise, webhooks)
plugs into. Temporary refusals raise none: they are retried and shown as waiting.
"""

from __future__ import annotations

import enum

import msgspec


class AlertKind(enum.Enum):
    LEVEL_REFUSED = "level_refused"  # a slot's order refused for good: the slot is empty
    GRID_STOPPED = "grid_stopped"  # stop-loss/take-profit, or the exit sell refused


class GridAlert(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    grid: str
    kind: AlertKind
    reason: str
    timestamp: int  # ms
    slot: int | None = None  # -1: a market order
