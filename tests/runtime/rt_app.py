"""A supervisor of test actors, run as a subprocess by the runtime tests.

    python rt_app.py BASE SCENARIO [START_METHOD]

Logs JSON to stderr; the alert hook appends each alert to BASE/evidence/alerts.log.
"""

from __future__ import annotations

import sys
from pathlib import Path

from gridsup.supervisor.effects import ActorFailedAlert
from gridsup.supervisor.main import run_supervisor
from gridsup.supervisor.spec import ChildSpec, Group, Policy, Restart

# Fast restarts, but generous liveness and ready timeouts: on two busy cores a healthy
# actor may not be scheduled for seconds, and must not be mistaken for a hung one. Only
# the actors that test hang detection get tight values.
FAST = Policy(
    heartbeat_interval=0.2,
    heartbeat_liveness=25,
    ready_timeout=30.0,
    backoff_base=0.05,
    backoff_max=0.5,
    max_restarts=5,
    restart_period=60.0,
    stop_timeout=4.0,
)


def _spec(
    name: str, cls: str, *args: object, group: Group = Group.STRATEGY, **policy: object
) -> ChildSpec:
    kind = group.name.lower()
    return ChildSpec(
        name=name,
        kind=kind,
        target=f"rt_actors:{cls}",
        args=args,
        group=group,
        policy=FAST if not policy else Policy(**{**_fields(FAST), **policy}),  # type: ignore[arg-type]
    )


def _fields(policy: Policy) -> dict[str, object]:
    return {name: getattr(policy, name) for name in Policy.__slots__}


def scenario(name: str, evidence: str) -> list[ChildSpec]:
    if name == "crashes":
        return [
            _spec("steady", "Steady", evidence),
            _spec("exiter", "Crasher", evidence, "exit"),
            _spec("raiser", "Crasher", evidence, "raise"),
            _spec("hanger", "Crasher", evidence, "hang", heartbeat_liveness=5),
            _spec("victim", "Steady", evidence),
            _spec("slow", "SlowStarter", evidence, ready_timeout=1.5),
            _spec("looper", "Crasher", evidence, "exit", -1, max_restarts=2),
            _spec("once", "Crasher", evidence, "raise", 1, restart=Restart.TEMPORARY),
        ]
    if name == "groups":
        return [
            _spec("strat-a", "LightStrategyHost", evidence),
            _spec("strat-b", "TickSink", evidence),
            _spec("market", "Steady", evidence, group=Group.MARKET_DATA),
            _spec("exec", "Steady", evidence, group=Group.EXECUTION),
            _spec("store", "Steady", evidence, group=Group.PERSISTENCE),
        ]
    if name == "locked":
        return [
            _spec("locked", "Locked", evidence),
            _spec("steady", "Steady", evidence),
        ]
    raise SystemExit(f"unknown scenario {name!r}")


def main() -> int:
    base, name = Path(sys.argv[1]), sys.argv[2]
    method = sys.argv[3] if len(sys.argv) > 3 else "forkserver"
    evidence = base / "evidence"
    evidence.mkdir(parents=True, exist_ok=True)

    def alert(a: ActorFailedAlert) -> None:
        with (evidence / "alerts.log").open("a") as f:
            f.write(f"{a.name} {a.kind} {a.restarts} {a.reason}\n")

    return run_supervisor(
        scenario(name, str(evidence)), base=base, start_method=method, alert=alert, log_json=True
    )


if __name__ == "__main__":
    sys.exit(main())
