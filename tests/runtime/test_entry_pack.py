"""What the supervisor hands a child: its launch, pickled by the standard pickler where
it can be (the start method's ``dill`` is about twenty times slower), and a child that
``multiprocess`` does not poll at every later start -- its exit still seen, through its
sentinel."""

from __future__ import annotations

import asyncio
import pickle
import sys
from pathlib import Path
from typing import Any

import multiprocess
import zmq

from gridsup.runtime import endpoints
from gridsup.runtime.actor import RuntimeInfo
from gridsup.runtime.entry import EXIT_BAD_FACTORY, Launch, pack
from gridsup.supervisor.processes import ProcessEffects, make_context
from gridsup.supervisor.spec import ChildSpec


def _launch(**kwargs: Any) -> Launch:
    info = RuntimeInfo(name="g", kind="strategy", run_dir="/nowhere")
    return Launch(info, "gridsup.actors.grid.actor:build", ("a", 1), kwargs, "WARNING")


def test_a_launch_goes_pickled_by_the_standard_pickler() -> None:
    launch = _launch(grid_name="btc", resync_idle_s=100.0)
    packed = pack(launch)
    assert isinstance(packed, bytes)
    assert pickle.loads(packed) == launch


def test_a_launch_only_dill_can_pickle_goes_as_it_is() -> None:
    launch = _launch(hook=lambda: None)  # a lambda: the standard pickler refuses it
    assert pack(launch) is launch


def test_a_launch_naming_something_of_main_goes_as_it_is() -> None:
    """``pickle`` would refer to it as ``__main__.<name>``, which the child's own
    ``__main__`` does not have; ``dill`` carries it by value."""
    made_in_main = type("Made", (), {"__module__": "__main__", "__qualname__": "Made"})
    sys.modules["__main__"].Made = made_in_main  # type: ignore[attr-defined]
    try:
        launch = _launch(kind=made_in_main)
        assert pack(launch) is launch
    finally:
        del sys.modules["__main__"].Made  # type: ignore[attr-defined]


class _Exits:
    """Supervision's side of ProcessEffects: the exits it is told about."""

    def __init__(self) -> None:
        self.exits: list[tuple[str, int, int | None]] = []
        self.seen = asyncio.Event()

    def on_exit(self, name: str, pid: int, code: int | None) -> None:
        self.exits.append((name, pid, code))
        self.seen.set()


def test_a_spawned_child_is_not_polled_by_multiprocess_and_its_exit_is_seen(
    base: Path,
) -> None:
    """A child whose factory does not exist exits with EXIT_BAD_FACTORY at once: the
    supervisor hears of it through the sentinel, while multiprocess's own list of
    children (polled, one selector each, at every start) never held it."""

    async def scenario() -> tuple[list[tuple[str, int, int | None]], bool, int]:
        ctx = zmq.Context()
        command = ctx.socket(zmq.PUB)
        exits = _Exits()
        effects = ProcessEffects(
            make_context("fork"),
            endpoints.RunDir.create(base),
            command,
            asyncio.get_running_loop(),
            [exits],  # type: ignore[list-item]
            log_level="WARNING",
        )
        spec = ChildSpec(name="nobody", kind="strategy", target="gridsup.runtime:no_such_factory")
        handle = effects.spawn(spec)
        listed = any(p.pid == handle.pid for p in multiprocess.active_children())
        await asyncio.wait_for(exits.seen.wait(), 30)
        command.close(0)
        ctx.term()
        return exits.exits, listed, handle.pid

    exits, listed, pid = asyncio.run(scenario())
    assert not listed
    assert exits == [("nobody", pid, EXIT_BAD_FACTORY)]
