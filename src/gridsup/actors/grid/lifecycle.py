"""A strategy actor's lifecycle vocabulary: the states of its grid (reported in its
status), the named group of them a stop tests, and the two failures that crash the
actor, so that it is restarted.

A leaf: the actor and its helper modules import it, it imports nothing of gridsup.
"""

from __future__ import annotations

import enum


class GridActorState(enum.Enum):
    STARTING = "starting"
    LOCKED = "locked"  # refused: the grid runs elsewhere
    RECONCILING = "reconciling"
    TRADING = "trading"
    # Started paused (its grid was paused on request before this start): its state is
    # loaded, nothing reconciled or sent; a Resume reconciles, then it trades.
    HELD = "held"
    ABORTED = "aborted"  # reconciliation found too much disagreement (policy abort)


# A stop with --cancel-orders cancels the grid's orders only in these states.
CANCEL_ON_STOP_STATES = (GridActorState.TRADING, GridActorState.RECONCILING, GridActorState.HELD)
# The states a paused grid reports as "paused".
PAUSABLE_STATES = (GridActorState.TRADING, GridActorState.HELD)


class StateLoadError(RuntimeError):
    """The store could not give us the grid's state (the actor crashes and is restarted)."""


class GridLockLost(RuntimeError):
    """The lock's session died: another copy may start, so this one must not trade on."""


class GridFenced(RuntimeError):
    """The store refused a save of ours as fenced: a newer incarnation of the grid (on
    this host or another cluster member) has claimed it, so this one must not trade on."""
