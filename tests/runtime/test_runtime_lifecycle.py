"""The actor lifecycle table, run directories and endpoints."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from gridsup.runtime.actor import RuntimeInfo
from gridsup.runtime.endpoints import EndpointError, RunDir, command_topic, tcp_endpoint
from gridsup.runtime.entry import FactoryError, Launch, build, resolve
from gridsup.runtime.liveness import process_alive
from gridsup.runtime.states import (
    TRANSITIONS,
    ActorState,
    ActorTrigger,
    InvalidTransition,
    Lifecycle,
)
from gridsup.supervisor.discovery import SupervisorPointer, claim, read_pointer

HAPPY_PATH = [
    (ActorTrigger.STARTED, ActorState.READY),
    (ActorTrigger.RUN, ActorState.RUNNING),
    (ActorTrigger.STOP, ActorState.STOPPING),
    (ActorTrigger.STOPPED, ActorState.STOPPED),
]


def test_the_happy_path_walks_every_state_in_order() -> None:
    lifecycle = Lifecycle()

    seen = [lifecycle.fire(trigger) for trigger, _ in HAPPY_PATH]

    assert seen == [state for _, state in HAPPY_PATH]


INVALID = [
    (state, trigger)
    for state in ActorState
    for trigger in ActorTrigger
    if (state, trigger) not in TRANSITIONS
]


@pytest.mark.parametrize(("state", "trigger"), INVALID)
def test_an_invalid_trigger_raises_naming_from_and_trigger(
    state: ActorState, trigger: ActorTrigger
) -> None:
    lifecycle = Lifecycle()
    lifecycle.state = state

    with pytest.raises(InvalidTransition, match=f"{state.name} -> {trigger.name}"):
        lifecycle.fire(trigger)
    assert lifecycle.state is state


def test_stopped_is_final() -> None:
    assert not any(state is ActorState.STOPPED for state, _ in TRANSITIONS)


def test_a_run_dir_and_its_base_are_private(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path / "base")

    modes = [stat.S_IMODE(p.stat().st_mode) for p in (run.base, run.path)]

    assert modes == [0o700, 0o700]
    assert run.endpoint("ticks") == f"ipc://{run.path}/ticks.sock"


def test_run_dirs_of_dead_supervisors_are_swept_and_live_ones_kept(tmp_path: Path) -> None:
    base = tmp_path / "base"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        for pid in (dead.pid, live.pid):
            (base / f"run-{pid}").mkdir(parents=True, mode=0o700)
        os.chmod(base, 0o700)

        RunDir.create(base)

        assert not (base / f"run-{dead.pid}").exists()
        assert (base / f"run-{live.pid}").exists()
    finally:
        live.kill()
        live.wait()


def test_a_shared_base_directory_is_refused(tmp_path: Path) -> None:
    base = tmp_path / "open"
    base.mkdir()
    os.chmod(base, 0o755)

    with pytest.raises(EndpointError, match="not private"):
        RunDir.create(base)


@pytest.mark.parametrize("name", ["", "../x", "a/b", ".hidden"])
def test_bad_endpoint_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(EndpointError):
        RunDir.create(tmp_path).endpoint(name)


def test_an_endpoint_path_too_long_for_a_unix_socket_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EndpointError, match="longer than"):
        RunDir.create(tmp_path / ("d" * 90))


@pytest.mark.parametrize(
    ("address", "ok"),
    [
        ("127.0.0.1:5555", True),
        ("[::1]:5555", True),
        ("host.internal:80", True),
        ("0.0.0.0:5555", False),
        ("*:5555", False),
        ("[::]:5555", False),
        ("127.0.0.1", False),
        ("127.0.0.1:99999", False),
    ],
)
def test_tcp_endpoints_need_an_explicit_address(address: str, ok: bool) -> None:
    if ok:
        assert tcp_endpoint(address) == f"tcp://{address}"
    else:
        with pytest.raises(EndpointError):
            tcp_endpoint(address)


def test_command_topics_do_not_prefix_match_each_other() -> None:
    assert not command_topic("grid-10").startswith(command_topic("grid-1"))


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("no_colon", "want 'module:callable'"),
        ("gridsup_no_such_module:f", "cannot import"),
        ("gridsup.runtime.actor:NoSuchThing", "has no NoSuchThing"),
    ],
)
def test_bad_factory_targets_are_reported(target: str, message: str) -> None:
    with pytest.raises(FactoryError, match=message):
        resolve(target)


def test_a_factory_that_does_not_build_an_actor_is_refused() -> None:
    launch = Launch(RuntimeInfo(name="a", kind="k", run_dir="/nonexistent"), "builtins:dict")

    with pytest.raises(FactoryError, match="not an Actor"):
        build(launch)


def test_process_alive_tells_live_from_gone_and_zombie() -> None:
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    os.waitid(os.P_PID, zombie.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: a zombie
    reaped = subprocess.Popen([sys.executable, "-c", "pass"])
    reaped.wait()

    verdicts = [process_alive(pid) for pid in (os.getpid(), None, zombie.pid, reaped.pid)]
    zombie.wait()

    assert verdicts == [True, True, False, False]


def test_a_zombie_supervisor_counts_as_gone_for_its_pointer_and_run_directory(
    base: Path,
) -> None:
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    os.waitid(os.P_PID, zombie.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: a zombie
    stale = base / f"run-{zombie.pid}"
    try:
        stale.mkdir(mode=0o700)
        pointer = SupervisorPointer(
            pid=zombie.pid, run_dir=str(stale), control="ipc://x", started_at=0.0
        )
        claim(base, pointer)
        found = read_pointer(base)
        RunDir.create(base)  # sweeps the run directories of dead supervisors
    finally:
        zombie.wait()

    assert (found, stale.exists()) == (None, False)
