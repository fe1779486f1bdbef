"""An actor's lifecycle as a table: (state, trigger) -> next state.

Dependency-free leaf module (supervisord's ``states.py``): callers test membership in
the named groups rather than listing states.
"""

from __future__ import annotations

import enum


class ActorState(enum.Enum):
    STARTING = "starting"  # sockets opening, on_start running
    READY = "ready"  # on_start done, Ready sent to the supervisor
    RUNNING = "running"  # receive loops dispatching messages
    STOPPING = "stopping"  # on_stop running, sockets closing
    STOPPED = "stopped"


class ActorTrigger(enum.Enum):
    STARTED = "started"  # on_start returned
    RUN = "run"  # message loops began
    STOP = "stop"  # SIGTERM, Stop message, or the actor asked itself to stop
    STOPPED = "stopped"  # on_stop returned and sockets are closed


# Every edge of the lifecycle; anything else is a bug in the runtime or the actor.
TRANSITIONS: dict[tuple[ActorState, ActorTrigger], ActorState] = {
    # STARTING -> READY: on_start completed. A failing on_start leaves the actor visibly in
    # STARTING until the process exits (never half-running).
    (ActorState.STARTING, ActorTrigger.STARTED): ActorState.READY,
    # A stop signal during start-up still runs on_stop so partial set-up is undone.
    (ActorState.STARTING, ActorTrigger.STOP): ActorState.STOPPING,
    (ActorState.READY, ActorTrigger.RUN): ActorState.RUNNING,
    (ActorState.READY, ActorTrigger.STOP): ActorState.STOPPING,
    (ActorState.RUNNING, ActorTrigger.STOP): ActorState.STOPPING,
    (ActorState.STOPPING, ActorTrigger.STOPPED): ActorState.STOPPED,
}

ACTIVE_STATES = frozenset({ActorState.STARTING, ActorState.READY, ActorState.RUNNING})
DONE_STATES = frozenset({ActorState.STOPPING, ActorState.STOPPED})


class InvalidTransition(RuntimeError):
    """A trigger that the current state does not accept; the message names FROM -> TRIGGER."""

    def __init__(self, state: ActorState, trigger: ActorTrigger) -> None:
        super().__init__(f"invalid transition {state.name} -> {trigger.name}")
        self.state = state
        self.trigger = trigger


class Lifecycle:
    """The current state and its one choke point for changes, :meth:`fire`."""

    __slots__ = ("state",)

    def __init__(self) -> None:
        self.state = ActorState.STARTING

    def fire(self, trigger: ActorTrigger) -> ActorState:
        """Apply ``trigger`` and return the new state.

        Raises:
            InvalidTransition: the current state does not accept ``trigger``.
        """
        try:
            self.state = TRANSITIONS[self.state, trigger]
        except KeyError:
            raise InvalidTransition(self.state, trigger) from None
        return self.state

    def can(self, trigger: ActorTrigger) -> bool:
        return (self.state, trigger) in TRANSITIONS

    def __repr__(self) -> str:
        return f"Lifecycle({self.state.name})"
