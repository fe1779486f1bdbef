"""What to run: OTP-style child specs with a restart policy per actor kind."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any


class Restart(enum.Enum):
    PERMANENT = "permanent"  # always restarted
    TRANSIENT = "transient"  # restarted only after an abnormal exit (non-zero, signal)
    TEMPORARY = "temporary"  # never restarted

    def wants_restart(self, exitcode: int | None) -> bool:
        if self is Restart.PERMANENT:
            return True
        if self is Restart.TRANSIENT:
            return exitcode != 0
        return False


class Group(enum.IntEnum):
    """Start order: a group starts when every child of the previous one is Ready;
    stop runs in reverse."""

    PERSISTENCE = 0
    EXECUTION = 1
    MARKET_DATA = 2
    STRATEGY = 3


# Exit codes that no restart can cure, with what they mean (for the FAILED reason).
# 75 (EX_TEMPFAIL) is a strategy actor's EXIT_LOCKED: another process holds its grid's
# lock, so a restart would only find the lock held again - a restart loop that hides
# the one thing the operator must know (the grid runs elsewhere, or twice is configured).
EXIT_MEANINGS: dict[int, str] = {75: "the grid's lock is held by another process"}
DEFAULT_FATAL_EXIT_CODES = frozenset({75})


class SpecError(ValueError):
    """A child spec with an impossible value; the message names the child and field."""


@dataclass(frozen=True, slots=True)
class Policy:
    """How one kind of actor is watched and restarted (all times in seconds)."""

    restart: Restart = Restart.PERMANENT
    ready_timeout: float = 10.0
    heartbeat_interval: float = 1.0
    heartbeat_liveness: int = 3  # missed heartbeats before the actor counts as hung
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_restarts: int = 5  # more than this many restarts ...
    restart_period: float = 60.0  # ... within this many seconds: FAILED
    stop_timeout: float = 10.0  # Stop -> SIGTERM at half of it -> SIGKILL at the end
    supervisor_timeout: float = 10.0  # the actor exits after this long without our heartbeat
    # An exit with one of these codes is never restarted, whatever ``restart`` says: the
    # child is FAILED at once (alert raised) with the code's meaning as the reason.
    fatal_exit_codes: frozenset[int] = DEFAULT_FATAL_EXIT_CODES

    def check(self, name: str) -> None:
        """Raises:
        SpecError: a non-positive time or count, or a fatal exit code outside 1..255."""
        for attr in (
            "ready_timeout",
            "heartbeat_interval",
            "backoff_base",
            "restart_period",
            "stop_timeout",
            "supervisor_timeout",
        ):
            if getattr(self, attr) <= 0:
                raise SpecError(f"child {name!r}: {attr} must be > 0")
        if self.backoff_max < self.backoff_base:
            raise SpecError(f"child {name!r}: backoff_max must be >= backoff_base")
        if self.heartbeat_liveness < 1 or self.max_restarts < 0:
            raise SpecError(f"child {name!r}: heartbeat_liveness >= 1 and max_restarts >= 0")
        if any(not 0 < code < 256 for code in self.fatal_exit_codes):
            raise SpecError(f"child {name!r}: fatal_exit_codes must lie in 1..255")


# Defaults per actor kind; a ChildSpec may carry its own Policy instead.
DEFAULT_POLICIES: dict[str, Policy] = {
    "persistence": Policy(ready_timeout=30.0, stop_timeout=15.0),
    "execution": Policy(ready_timeout=30.0, stop_timeout=15.0),
    "market_data": Policy(ready_timeout=20.0),
    "strategy": Policy(ready_timeout=30.0),
}


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """One supervised actor. ``target`` is ``"module:callable"`` returning the Actor, so the
    child imports only what it needs; ``args``/``kwargs`` must be picklable."""

    name: str
    kind: str
    target: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    group: Group = Group.STRATEGY
    policy: Policy | None = None  # None: DEFAULT_POLICIES[kind], else Policy()

    def __post_init__(self) -> None:
        if not self.name or "\x00" in self.name or "/" in self.name or self.name == "supervisor":
            raise SpecError(f"child name {self.name!r} is not allowed")
        if ":" not in self.target:
            raise SpecError(f"child {self.name!r}: target {self.target!r} is not 'module:callable'")
        self.effective_policy.check(self.name)

    @property
    def effective_policy(self) -> Policy:
        if self.policy is not None:
            return self.policy
        return DEFAULT_POLICIES.get(self.kind, Policy())

    def with_policy(self, **changes: Any) -> ChildSpec:
        """A copy whose policy has ``changes`` applied."""
        return replace(self, policy=replace(self.effective_policy, **changes))


def check_specs(specs: list[ChildSpec]) -> None:
    """Raises:
    SpecError: two children share a name."""
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise SpecError(f"two children named {spec.name!r}")
        seen.add(spec.name)
