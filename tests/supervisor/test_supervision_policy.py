"""Restart policy, backoff, intensity, start/stop order: supervision logic through the
Effects seam with a fake clock (no processes)."""

from __future__ import annotations

import signal

import pytest

from gridsup.supervisor.effects import ActorFailedAlert
from gridsup.supervisor.policy import RestartTracker, Verdict
from gridsup.supervisor.spec import ChildSpec, Group, Policy, Restart, SpecError
from gridsup.supervisor.states import ChildState, SupervisorState
from gridsup.supervisor.supervision import Supervision
from supervisor_fakes import FakeEffects

POLICY = Policy(
    heartbeat_interval=1.0,
    heartbeat_liveness=3,
    ready_timeout=10.0,
    backoff_base=1.0,
    backoff_max=8.0,
    max_restarts=3,
    restart_period=60.0,
    stop_timeout=10.0,
)


def spec(name: str, group: Group = Group.STRATEGY, **changes: object) -> ChildSpec:
    s = ChildSpec(name=name, kind=group.name.lower(), target="m:f", group=group, policy=POLICY)
    return s.with_policy(**changes) if changes else s


def running(sup: Supervision, fx: FakeEffects) -> None:
    """Report Ready for every STARTING child (what healthy actors do)."""
    for child in [c for c in sup.children.values() if c.state is ChildState.STARTING]:
        if child.state is ChildState.STARTING:
            assert child.pid is not None
            sup.on_ready(child.name, child.pid)


def make(*specs: ChildSpec) -> tuple[Supervision, FakeEffects, list[ActorFailedAlert]]:
    fx = FakeEffects()
    alerts: list[ActorFailedAlert] = []
    sup = Supervision(list(specs), fx, alerts.append)
    sup.start()
    running(sup, fx)
    return sup, fx, alerts


# -- RestartTracker --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("restart", "exitcode", "verdict"),
    [
        (Restart.PERMANENT, 0, Verdict.RESTART),
        (Restart.PERMANENT, 1, Verdict.RESTART),
        (Restart.TRANSIENT, 0, Verdict.DONE),
        (Restart.TRANSIENT, 1, Verdict.RESTART),
        (Restart.TRANSIENT, -9, Verdict.RESTART),
        (Restart.TRANSIENT, None, Verdict.RESTART),
        (Restart.TEMPORARY, 1, Verdict.DONE),
        (Restart.TEMPORARY, 0, Verdict.DONE),
    ],
)
def test_restart_kind_decides_whether_an_exit_is_restarted(
    restart: Restart, exitcode: int | None, verdict: Verdict
) -> None:
    tracker = RestartTracker(Policy(restart=restart))

    assert tracker.on_exit(0.0, exitcode).verdict is verdict


def test_backoff_doubles_per_restart_in_the_window_and_is_capped() -> None:
    tracker = RestartTracker(Policy(backoff_base=1.0, backoff_max=5.0, max_restarts=10))

    delays = [tracker.on_exit(float(t), 1).delay for t in range(5)]

    assert delays == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_more_than_max_restarts_within_the_period_fails() -> None:
    tracker = RestartTracker(Policy(max_restarts=3, restart_period=10.0))

    verdicts = [tracker.on_exit(t, 1).verdict for t in (0.0, 1.0, 2.0, 3.0)]

    assert verdicts == [Verdict.RESTART] * 3 + [Verdict.FAIL]


def test_restarts_older_than_the_period_are_forgotten_and_backoff_resets() -> None:
    tracker = RestartTracker(Policy(max_restarts=2, restart_period=10.0, backoff_base=1.0))
    tracker.on_exit(0.0, 1)
    tracker.on_exit(1.0, 1)

    decision = tracker.on_exit(20.0, 1)

    assert decision.verdict is Verdict.RESTART
    assert decision.delay == 1.0


@pytest.mark.parametrize("restart", list(Restart))
def test_a_fatal_exit_code_fails_at_once_whatever_the_restart_kind(restart: Restart) -> None:
    tracker = RestartTracker(Policy(restart=restart))

    decision = tracker.on_exit(0.0, 75)

    assert decision.verdict is Verdict.FAIL
    assert "exit code 75" in decision.reason
    assert "lock" in decision.reason


@pytest.mark.parametrize(
    ("fatal", "exitcode", "verdict"),
    [
        (frozenset({75}), 1, Verdict.RESTART),
        (frozenset({75}), None, Verdict.RESTART),  # killed by us: never fatal
        (frozenset({3}), 3, Verdict.FAIL),
        (frozenset(), 75, Verdict.RESTART),  # a policy may opt out
    ],
)
def test_only_the_policys_fatal_exit_codes_are_fatal(
    fatal: frozenset[int], exitcode: int | None, verdict: Verdict
) -> None:
    tracker = RestartTracker(Policy(fatal_exit_codes=fatal))

    assert tracker.on_exit(0.0, exitcode).verdict is verdict


@pytest.mark.parametrize(
    ("changes", "field_name"),
    [
        ({"ready_timeout": 0}, "ready_timeout"),
        ({"heartbeat_interval": -1}, "heartbeat_interval"),
        ({"backoff_base": 2.0, "backoff_max": 1.0}, "backoff_max"),
        ({"fatal_exit_codes": frozenset({0})}, "fatal_exit_codes"),
    ],
)
def test_impossible_policies_are_refused_naming_the_field(
    changes: dict[str, object], field_name: str
) -> None:
    with pytest.raises(SpecError, match=field_name):
        spec("a", **changes)


def test_duplicate_child_names_are_refused() -> None:
    with pytest.raises(SpecError, match="two children named 'a'"):
        Supervision([spec("a"), spec("a")], FakeEffects())


# -- Child / Supervision -----------------------------------------------------------------


def test_a_crashed_child_is_restarted_after_its_backoff_and_counted() -> None:
    sup, fx, _ = make(spec("a"))
    first = sup.children["a"].pid
    assert first is not None

    sup.on_exit("a", first, 1)
    fx.clock += 0.5
    sup.tick()
    in_backoff = sup.children["a"].state
    fx.clock += 0.6
    sup.tick()

    child = sup.children["a"]
    assert in_backoff is ChildState.BACKOFF
    assert child.state is ChildState.STARTING
    assert child.restarts == 1
    assert [name for name, _ in fx.spawned] == ["a", "a"]
    assert child.pid != first


def test_a_crash_looping_child_fails_alerts_once_and_spares_its_sibling() -> None:
    sup, fx, alerts = make(spec("loop"), spec("healthy"))
    healthy_pid = sup.children["healthy"].pid
    assert healthy_pid is not None

    for _ in range(10):
        child = sup.children["loop"]
        if child.state is ChildState.FAILED:
            break
        assert child.pid is not None
        sup.on_exit("loop", child.pid, 7)
        for _ in range(int(POLICY.backoff_max)):
            fx.clock += 1.0
            sup.on_heartbeat("healthy", healthy_pid, {})  # the sibling keeps beating
            sup.tick()
        running(sup, fx)

    assert sup.children["loop"].state is ChildState.FAILED
    assert sup.children["loop"].restarts == POLICY.max_restarts
    assert [a.name for a in alerts] == ["loop"]
    assert sup.children["healthy"].state is ChildState.RUNNING
    assert sup.children["healthy"].pid == healthy_pid
    assert all(pid != healthy_pid for pid, _ in fx.signals)


def test_a_child_exiting_with_a_fatal_code_fails_at_once_and_is_never_respawned() -> None:
    sup, fx, alerts = make(spec("locked"), spec("sibling"))
    pid = sup.children["locked"].pid
    assert pid is not None

    sup.on_exit("locked", pid, 75)
    for _ in range(int(POLICY.backoff_max) + 2):
        fx.clock += 1.0
        sup.tick()

    child = sup.children["locked"]
    assert child.state is ChildState.FAILED
    assert child.restarts == 0
    assert [name for name, _ in fx.spawned].count("locked") == 1
    assert [(a.name, a.exitcode, a.restarts) for a in alerts] == [("locked", 75, 0)]
    assert "lock is held by another process" in alerts[0].reason
    assert sup.children["sibling"].state is ChildState.RUNNING


def test_a_fatal_exit_before_ready_settles_the_group_so_the_next_one_starts() -> None:
    fx = FakeEffects()
    sup = Supervision(
        [spec("grid", Group.STRATEGY), spec("store", Group.PERSISTENCE)], fx, lambda a: None
    )
    sup.start()
    store = sup.children["store"].pid
    assert store is not None

    sup.on_exit("store", store, 75)  # never Ready: exits while STARTING

    assert sup.children["store"].state is ChildState.FAILED
    assert sup.children["grid"].state is ChildState.STARTING


def test_a_child_that_stops_heartbeating_is_killed_then_restarted() -> None:
    sup, fx, _ = make(spec("hung"))
    pid = sup.children["hung"].pid
    assert pid is not None

    fx.clock += 2.0
    sup.on_heartbeat("hung", pid, {"n": 1})
    fx.clock += 2.9  # within interval * liveness of the last heartbeat
    sup.tick()
    signals_while_alive = list(fx.signals)
    fx.clock += 0.2
    sup.tick()
    sup.tick()  # killing twice would be a bug
    killed = list(fx.signals)
    sup.on_exit("hung", pid, -9)

    assert signals_while_alive == []
    assert killed == [(pid, signal.SIGKILL)]
    assert sup.children["hung"].state is ChildState.BACKOFF


def test_a_late_supervisor_excuses_the_silence_it_did_not_hear() -> None:
    """Its loop blocked (or starved) past a child's heartbeat deadline: the reports it
    did not read are no evidence of a hung child; a real silence afterwards still is."""
    fx = FakeEffects()
    sup = Supervision([spec("a"), spec("slow")], fx, lambda a: None)
    sup.start()
    pid, slow = sup.children["a"].pid, sup.children["slow"]
    assert pid is not None
    sup.on_ready("a", pid)  # "slow" is still starting
    limit = POLICY.heartbeat_interval * POLICY.heartbeat_liveness
    fx.clock += 1.0
    sup.tick()  # due next at 1000 + limit

    fx.clock = 1000.0 + limit + 5.0
    sup.tick()
    excused = list(fx.signals)
    fx.clock += limit + 0.1  # then truly silent
    sup.tick()

    assert excused == []
    assert fx.signals == [(pid, signal.SIGKILL)]
    assert slow.deadline == 1000.0 + POLICY.ready_timeout + 5.0


def test_while_stopping_a_child_waiting_for_its_turn_is_not_killed_for_silence() -> None:
    """A thousand grids exiting at once starve persistence of CPU: killing it for that
    silence would lose what it still has to drain. Its own stop comes in its turn."""
    sup, fx, _ = make(spec("store", Group.PERSISTENCE), spec("grid"))
    running(sup, fx)  # the grid's group, started once the store was Ready
    store, grid = sup.children["store"].pid, sup.children["grid"].pid
    assert store is not None and grid is not None

    sup.stop()
    for _ in range(4):  # silence past interval x liveness, the supervisor on time
        fx.clock += 1.0
        sup.tick()
    signals_while_grids_stop = list(fx.signals)
    sup.on_exit("grid", grid, 0)

    assert signals_while_grids_stop == []
    assert sup.children["store"].state is ChildState.STOPPING
    assert fx.stops == ["grid", "store"]


def test_a_child_not_ready_in_time_is_killed_and_its_exit_counts_as_a_crash() -> None:
    fx = FakeEffects()
    sup = Supervision([spec("slow", restart=Restart.TRANSIENT)], fx, lambda a: None)
    sup.start()
    pid = sup.children["slow"].pid
    assert pid is not None

    fx.clock += POLICY.ready_timeout + 0.1
    sup.tick()
    sup.on_exit("slow", pid, 0)  # even a clean exit code after our SIGKILL is abnormal

    assert fx.signals == [(pid, signal.SIGKILL)]
    assert sup.children["slow"].state is ChildState.BACKOFF


def test_reports_from_a_previous_incarnation_are_ignored() -> None:
    sup, _, _ = make(spec("a"))
    old = sup.children["a"].pid
    assert old is not None
    sup.on_exit("a", old, 1)

    sup.on_heartbeat("a", old, {"stale": True})
    sup.on_exit("a", old, 1)

    assert sup.children["a"].restarts == 1
    assert sup.children["a"].status == {}


@pytest.mark.parametrize(
    ("restart", "exitcode", "state"),
    [
        (Restart.TRANSIENT, 0, ChildState.EXITED),
        (Restart.TRANSIENT, 3, ChildState.BACKOFF),
        (Restart.TEMPORARY, 3, ChildState.EXITED),
        (Restart.PERMANENT, 0, ChildState.BACKOFF),
    ],
)
def test_exit_outcome_follows_the_restart_kind(
    restart: Restart, exitcode: int, state: ChildState
) -> None:
    sup, _, alerts = make(spec("a", restart=restart))
    pid = sup.children["a"].pid
    assert pid is not None

    sup.on_exit("a", pid, exitcode)

    assert sup.children["a"].state is state
    assert alerts == []


def test_a_failing_spawn_is_a_crash_and_is_retried_with_backoff() -> None:
    fx = FakeEffects(fail_spawn={"a"})
    sup = Supervision([spec("a")], fx, lambda a: None)

    sup.start()

    assert sup.children["a"].state is ChildState.BACKOFF
    assert sup.children["a"].restarts == 1


def test_groups_start_in_order_each_after_the_previous_is_ready() -> None:
    fx = FakeEffects()
    specs = [
        spec("strat", Group.STRATEGY),
        spec("md", Group.MARKET_DATA),
        spec("exec", Group.EXECUTION),
        spec("store", Group.PERSISTENCE),
    ]
    sup = Supervision(specs, fx, lambda a: None)

    sup.start()
    order = [[name for name, _ in fx.spawned]]
    for _ in range(4):
        running(sup, fx)
        order.append([name for name, _ in fx.spawned])

    assert order == [
        ["store"],
        ["store", "exec"],
        ["store", "exec", "md"],
        ["store", "exec", "md", "strat"],
        ["store", "exec", "md", "strat"],
    ]
    assert sup.state is SupervisorState.RUNNING


def test_stop_goes_in_reverse_group_order_waiting_for_each_group_to_exit() -> None:
    specs = [
        spec("store", Group.PERSISTENCE),
        spec("md", Group.MARKET_DATA),
        spec("s1"),
        spec("s2"),
    ]
    sup, fx, _ = make(*specs)
    for _ in range(3):
        running(sup, fx)

    sup.stop()
    first = list(fx.stops)
    for name in ("s1", "s2"):
        pid = sup.children[name].pid
        assert pid is not None
        sup.on_exit(name, pid, 0)
    second = list(fx.stops)
    md = sup.children["md"].pid
    assert md is not None
    sup.on_exit("md", md, 0)
    third = list(fx.stops)
    store = sup.children["store"].pid
    assert store is not None
    sup.on_exit("store", store, 0)

    assert first == ["s1", "s2"]
    assert second == ["s1", "s2", "md"]
    assert third == ["s1", "s2", "md", "store"]
    assert all(c.state is ChildState.STOPPED for c in sup.children.values())
    assert sup.done


def test_a_child_ignoring_stop_gets_sigterm_then_sigkill() -> None:
    sup, fx, _ = make(spec("stubborn"))
    pid = sup.children["stubborn"].pid

    sup.stop()
    fx.clock += POLICY.stop_timeout / 2
    sup.tick()
    after_half = list(fx.signals)
    fx.clock += POLICY.stop_timeout / 2
    sup.tick()

    assert after_half == [(pid, signal.SIGTERM)]
    assert fx.signals == [(pid, signal.SIGTERM), (pid, signal.SIGKILL)]
    assert sup.children["stubborn"].state is ChildState.STOPPING


def test_stopping_settles_children_in_backoff_without_restarting_them() -> None:
    sup, fx, _ = make(spec("a"))
    pid = sup.children["a"].pid
    assert pid is not None
    sup.on_exit("a", pid, 1)

    sup.stop()
    fx.clock += 100
    sup.tick()

    assert sup.children["a"].state is ChildState.STOPPED
    assert len(fx.spawned) == 1
    assert sup.done


def test_status_reports_each_child() -> None:
    sup, fx, _ = make(spec("a"))
    pid = sup.children["a"].pid
    assert pid is not None
    fx.clock += 4.0
    sup.on_heartbeat("a", pid, {"ticks": 5})
    fx.clock += 1.0

    (row,) = sup.status()

    assert (row.name, row.state, row.pid, row.restarts) == ("a", "running", pid, 0)
    assert row.uptime == 5.0
    assert row.last_heartbeat_age == 1.0
    assert row.status == {"ticks": 5}


def test_a_large_group_is_spawned_in_batches_between_ticks() -> None:
    fx = FakeEffects()
    sup = Supervision([spec(f"s{i}") for i in range(20)], fx, lambda a: None, spawn_batch=8)

    sup.start()
    counts = [len(fx.spawned)]
    while sup.spawning:
        sup.tick()
        counts.append(len(fx.spawned))
    running(sup, fx)

    assert counts == [8, 16, 20]
    assert sup.state is SupervisorState.RUNNING


def test_no_more_than_max_starting_children_start_at_once() -> None:
    """A thousand grids spawned at once starve everyone of CPU: the next spawn waits
    for a Ready (or an exit) of those starting, and the shell sleeps meanwhile."""
    fx = FakeEffects()
    sup = Supervision(
        [spec(f"s{i}") for i in range(20)], fx, lambda a: None, spawn_batch=8, max_starting=5
    )

    sup.start()
    for _ in range(3):
        sup.tick()
    full = (len(fx.spawned), sup.spawning, sup.next_deadline())
    for name, pid in fx.spawned[:3]:
        sup.on_ready(name, pid)
    sup.tick()
    after_three = len(fx.spawned)
    first, pid = fx.spawned[3]
    sup.on_exit(first, pid, 1)  # a failed start frees its place too (its restart waits)
    sup.tick()
    for _ in range(100):  # the rest, and the failed one restarted after its backoff
        running(sup, fx)
        fx.clock += 1.0
        sup.tick()

    assert full == (5, False, 1000.0 + POLICY.ready_timeout)
    assert after_three == 8
    assert {name for name, _ in fx.spawned} == {f"s{i}" for i in range(20)}
    assert sup.state is SupervisorState.RUNNING


# -- next_deadline: what lets the shell sleep instead of polling ---------------------------


def test_next_deadline_follows_each_state_so_the_shell_never_needs_to_poll() -> None:
    sup, fx, _ = make(spec("a"))
    pid = sup.children["a"].pid
    assert pid is not None
    limit = POLICY.heartbeat_interval * POLICY.heartbeat_liveness

    running_deadline = sup.next_deadline()
    fx.clock += 1.0
    sup.on_heartbeat("a", pid, {})
    after_beat = sup.next_deadline()
    sup.on_exit("a", pid, 1)
    in_backoff = sup.next_deadline()

    assert running_deadline == 1000.0 + limit
    assert after_beat == 1001.0 + limit
    assert in_backoff == 1001.0 + POLICY.backoff_base


def test_ticking_at_the_next_deadline_acts_on_it() -> None:
    sup, fx, _ = make(spec("hung"))
    pid = sup.children["hung"].pid
    assert pid is not None

    deadline = sup.next_deadline()
    assert deadline is not None
    fx.clock = deadline + 0.001
    sup.tick()

    assert fx.signals == [(pid, signal.SIGKILL)]
    assert sup.next_deadline() is None  # killed: only its exit (an event) comes next


def test_next_deadline_covers_a_stop_escalation_and_ignores_settled_children() -> None:
    sup, fx, _ = make(spec("a"), spec("gone", restart=Restart.TEMPORARY))
    gone = sup.children["gone"].pid
    assert gone is not None
    sup.on_exit("gone", gone, 0)

    sup.stop()

    assert sup.children["gone"].state is ChildState.EXITED
    assert sup.next_deadline() == fx.clock + POLICY.stop_timeout / 2


def test_events_that_may_bring_a_deadline_forward_wake_the_shell() -> None:
    fx = FakeEffects()
    woken: list[str] = []
    sup = Supervision([spec("a")], fx, lambda a: None, changed=lambda: woken.append("x"))
    sup.start()
    pid = sup.children["a"].pid
    assert pid is not None

    sup.on_ready("a", pid)
    after_ready = len(woken)
    sup.on_heartbeat("a", pid, {})  # only moves a deadline later: no wake-up
    after_heartbeat = len(woken)
    sup.stop()
    after_stop = len(woken)
    sup.on_exit("a", pid, 0)

    assert (after_ready, after_heartbeat, after_stop, len(woken)) == (1, 1, 2, 3)
