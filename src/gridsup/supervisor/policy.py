"""Restart decisions: policy, exponential backoff and OTP intensity, as pure logic.

A deque of restart timestamps is all intensity needs: more than ``max_restarts``
restarts within ``restart_period`` seconds and the child is given up. The same window
drives the backoff, so a child that has been healthy for a period starts again at the
base delay.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

from gridsup.supervisor.spec import EXIT_MEANINGS, Policy


class Verdict(enum.Enum):
    RESTART = "restart"
    FAIL = "fail"  # intensity exceeded, or a fatal exit code
    DONE = "done"  # the policy does not restart this exit


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    delay: float = 0.0  # seconds to wait before restarting
    reason: str = ""  # why FAIL


class RestartTracker:
    """Remembers one child's recent restarts and decides what an exit leads to."""

    __slots__ = ("_times", "policy")

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._times: deque[float] = deque()

    def recent(self, now: float) -> int:
        """Restarts within the intensity period ending at ``now``."""
        horizon = now - self.policy.restart_period
        while self._times and self._times[0] <= horizon:
            self._times.popleft()
        return len(self._times)

    def backoff(self, restarts: int) -> float:
        """Delay before restart number ``restarts`` (1-based) of the current window."""
        p = self.policy
        return min(p.backoff_max, p.backoff_base * 2 ** max(restarts - 1, 0))

    def on_exit(self, now: float, exitcode: int | None) -> Decision:
        """Decide what follows an exit with ``exitcode`` (None: unknown, counts as abnormal).

        A fatal exit code fails the child before the restart kind is asked: such an exit
        says a restart cannot help, and the operator must hear it even from a temporary
        child."""
        p = self.policy
        if exitcode is not None and exitcode in p.fatal_exit_codes:
            meaning = EXIT_MEANINGS.get(exitcode, "listed in the policy's fatal_exit_codes")
            return Decision(Verdict.FAIL, reason=f"exit code {exitcode}: {meaning}")
        if not p.restart.wants_restart(exitcode):
            return Decision(Verdict.DONE)
        if self.recent(now) >= p.max_restarts:
            return Decision(
                Verdict.FAIL,
                reason=f"more than {p.max_restarts} restarts in {p.restart_period:g}s",
            )
        self._times.append(now)
        return Decision(Verdict.RESTART, self.backoff(len(self._times)))
