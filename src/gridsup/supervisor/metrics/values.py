"""Reading an actor's status for metrics: its values as numbers, a grid's state."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from gridsup.messages.control import ActorStatus, StatusValue

# Kinds, as the app names them (gridsup.app.KIND_*; the supervisor cannot import app).
KIND_STRATEGY = "strategy"
KIND_EXECUTION = "execution"
KIND_PERSISTENCE = "persistence"
KIND_MARKET_DATA = "market_data"


def number(value: StatusValue) -> float | None:
    """A status value as a float (exact decimal text included); None if it is none."""
    if value is None or isinstance(value, bool):
        return None if value is None else float(value)
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(Decimal(value))
    except (InvalidOperation, ValueError):
        return None


def grid_state(actor: ActorStatus) -> str:
    """The grid's state as ``gridsup status`` shows it: the strategy's own state while
    its process runs (``stopped`` once its strategy stopped), else the process's."""
    s = actor.status
    if s.get("stopped"):
        return "stopped"
    own = s.get("state")
    return str(own) if actor.state == "running" and isinstance(own, str) else actor.state
