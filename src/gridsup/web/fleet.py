"""The fleet as the dashboard shows it: one row per grid, built from the supervisor's
view of its actors (live, in this process), the grids' configuration, the latest prices
and the database's per-grid summaries (refreshed in the background).

:class:`StatusSource` is the seam: the supervisor is the real source, the benchmark
feeds a fake fleet of any size through it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from gridsup.messages.control import ActorStatus
from gridsup.strategy.grid.config import GridConfig
from gridsup.strategy.levels import grid_levels

KIND_STRATEGY = "strategy"
# Heartbeats older than this (seconds) make a running grid "late"; ticks older than
# STALE_TICK_S make it "stale" (prices stopped coming).
LATE_HEARTBEAT_S = 5.0
STALE_TICK_S = 60.0


@dataclass(frozen=True)
class GridInfo:
    """What does not change during a run: a grid's name, symbol, range and levels."""

    name: str
    actor: str
    symbol: str
    quote: str
    lower: Decimal
    upper: Decimal
    levels: tuple[Decimal, ...]
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None


def grid_info(name: str, actor: str, symbol: str, config: Mapping[str, Any]) -> GridInfo:
    """A grid's static facts from its config (``GridSpec.config``).

    Raises:
        pydantic.ValidationError: the config does not validate (it did at start).
    """
    cfg = GridConfig.model_validate(dict(config))
    return GridInfo(
        name=name,
        actor=actor,
        symbol=symbol,
        quote=symbol.split("/")[-1],
        lower=cfg.lower_price,
        upper=cfg.upper_price,
        levels=grid_levels(cfg),
        stop_loss=cfg.stop_loss_price,
        take_profit=cfg.take_profit_price,
    )


class StatusSource(Protocol):
    """Where the fleet's live facts come from."""

    def supervisor(self) -> dict[str, Any]:
        """pid, state, uptime of the supervisor."""
        ...

    def actors(self) -> Sequence[ActorStatus]: ...

    def grids(self) -> Sequence[GridInfo]: ...

    def paused(self) -> frozenset[str]:
        """Grids paused on request (the supervisor's record of it)."""
        ...


class Prices(Protocol):
    """Symbol -> latest price (the tick buffer)."""

    @property
    def latest(self) -> Mapping[str, Decimal]: ...


def _num(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def position(price: Decimal | None, info: GridInfo) -> float | None:
    """Where ``price`` is in the grid's range: 0 at the lower, 1 at the upper price
    (below 0 or above 1 outside it)."""
    if price is None or info.upper <= info.lower:
        return None
    return round(float((price - info.lower) / (info.upper - info.lower)), 4)


def health(actor: ActorStatus | None, state: str) -> str:
    """One word an operator can sort by: ok, paused, late, stale, degraded, stopped, down."""
    if actor is None or actor.state != "running":
        return "down" if state not in ("stopped", "exited") else "stopped"
    s = actor.status
    if state == "stopped":
        return "stopped"
    if s.get("recon_aborted") or state == "aborted":
        return "degraded"
    if state == "paused":
        return "paused"
    age = actor.last_heartbeat_age
    if age is not None and age > LATE_HEARTBEAT_S:
        return "late"
    tick_age = s.get("last_tick_age_s")
    if isinstance(tick_age, int | float) and tick_age > STALE_TICK_S:
        return "stale"
    if s.get("recon_mismatches"):
        return "degraded"
    return "ok"


def grid_state(actor: ActorStatus | None, paused: bool) -> str:
    """The grid's state in one word (as ``gridsup status`` shows it)."""
    if actor is None:
        return "unknown"
    if actor.state != "running":
        return actor.state
    if actor.status.get("stopped"):
        return "stopped"
    if paused or actor.status.get("paused"):
        return "paused"
    return str(actor.status.get("state") or actor.state)


def fleet_rows(
    source: StatusSource,
    prices: Prices,
    summaries: Mapping[str, Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """One JSON-ready row per grid (see docs/web.md, "Fleet")."""
    by_actor = {a.name: a for a in source.actors()}
    paused = source.paused()
    rows = []
    for info in source.grids():
        actor = by_actor.get(info.actor)
        s = actor.status if actor is not None else {}
        state = grid_state(actor, info.name in paused)
        price = prices.latest.get(info.symbol)
        summary = summaries.get(info.name, {})
        rows.append(
            {
                "grid": info.name,
                "symbol": info.symbol,
                "quote": info.quote,
                "state": state,
                "health": health(actor, state),
                "mode": s.get("mode"),
                "lower": str(info.lower),
                "upper": str(info.upper),
                "levels": len(info.levels),
                "price": None if price is None else str(price),
                "position": position(price, info),
                "realized_profit": s.get("realized_profit", summary.get("profit")),
                "fees": summary.get("fees"),
                "open_orders": s.get("open_orders"),
                "cycles": s.get("completed_cycles", summary.get("cycles_booked")),
                "fills": summary.get("fills", 0),
                "last_fill": summary.get("last_fill"),
                "restarts": actor.restarts if actor is not None else 0,
                "pid": actor.pid if actor is not None else None,
                "heartbeat_age": actor.last_heartbeat_age if actor is not None else None,
                "tick_age": s.get("last_tick_age_s"),
            }
        )
    return rows


def totals(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts by state and health, and sums per quote currency (profit, fees, orders,
    cycles): grids quoted in different currencies are not added together."""
    by_quote: dict[str, dict[str, Any]] = {}
    states: dict[str, int] = {}
    healths: dict[str, int] = {}
    for r in rows:
        states[r["state"]] = states.get(r["state"], 0) + 1
        healths[r["health"]] = healths.get(r["health"], 0) + 1
        q = by_quote.setdefault(
            r["quote"],
            {
                "grids": 0,
                "realized_profit": Decimal(0),
                "fees": Decimal(0),
                "open_orders": 0,
                "cycles": 0,
            },
        )
        q["grids"] += 1
        q["realized_profit"] += _num(r["realized_profit"]) or 0
        q["fees"] += _num(r["fees"]) or 0
        q["open_orders"] += int(r["open_orders"] or 0)
        q["cycles"] += int(r["cycles"] or 0)
    for q in by_quote.values():
        q["realized_profit"] = str(q["realized_profit"])
        q["fees"] = str(q["fees"])
    return {"grids": len(rows), "states": states, "health": healths, "by_quote": by_quote}


def actor_rows(source: StatusSource) -> dict[str, Any]:
    """The supervision tree: the supervisor and its children, by kind, in start order."""
    children = [
        {
            "name": a.name,
            "kind": a.kind,
            "state": a.state,
            "pid": a.pid,
            "uptime": a.uptime,
            "restarts": a.restarts,
            "heartbeat_age": a.last_heartbeat_age,
        }
        for a in source.actors()
    ]
    return {"supervisor": source.supervisor(), "children": children, "at": time.time()}
