"""A supervised child's states (dependency-free leaf module, as supervisord's)."""

from __future__ import annotations

import enum


class ChildState(enum.Enum):
    NEW = "new"  # not started yet (its group's turn has not come)
    STARTING = "starting"  # spawned, waiting for Ready
    RUNNING = "running"  # Ready received, heartbeating
    BACKOFF = "backoff"  # exited, waiting to be restarted
    STOPPING = "stopping"  # asked to stop, waiting for it to exit
    STOPPED = "stopped"  # stopped on request
    EXITED = "exited"  # exited and not to be restarted (transient/temporary policy)
    FAILED = "failed"  # restart intensity exceeded: given up, alert raised


ALIVE_STATES = frozenset({ChildState.STARTING, ChildState.RUNNING, ChildState.STOPPING})
TERMINAL_STATES = frozenset({ChildState.STOPPED, ChildState.EXITED, ChildState.FAILED})
# A group has finished starting when each child is in one of these.
SETTLED_STATES = frozenset({ChildState.RUNNING, *TERMINAL_STATES})


class SupervisorState(enum.Enum):
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
