"""A child process's ``main``: import the actor's factory, build it, run its loop.

This module is what the supervisor's start method runs in a fresh child (and what a
forkserver preloads), so it imports only the runtime: the factory named by the child
spec (``"module:callable"``) brings in whatever that actor needs, and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import pickle
import signal
import sys
from dataclasses import dataclass, field
from typing import Any

import structlog
import zmq
import zmq.asyncio

from gridsup.logging import configure_logging
from gridsup.runtime.actor import Actor, RuntimeInfo

log = structlog.get_logger("gridsup.actors")

EXIT_OK = 0
EXIT_CRASHED = 1
EXIT_BAD_FACTORY = 2
# The supervisor's main script, for the forkserver's zygote (gridsup.runtime.zygote).
MAIN_PATH_ENV = "GRIDSUP_FORKSERVER_MAIN"
# The actors' log set-up, for the zygote: "LEVEL" or "LEVEL:json" (see logging_env).
LOGGING_ENV = "GRIDSUP_FORKSERVER_LOGGING"

# How this process's logging was set up by set_up_logging (inherited by a forkserver's
# children); None: not by it.
_logging: tuple[str, bool] | None = None


@dataclass(frozen=True, slots=True)
class Launch:
    """Everything a child needs, pickled to it by the start method."""

    info: RuntimeInfo
    target: str  # "package.module:callable" returning an Actor
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    log_level: str = "INFO"
    log_json: bool = False


def pack(launch: Launch) -> Launch | bytes:
    """``launch`` as the start method should carry it: pickled here by the standard
    pickler when it can be, else as it is.

    The start method pickles a process's arguments with ``dill``, which walks every
    object in Python: about 0.4 ms for a grid's launch (its run config), against 0.02 ms
    for ``pickle``, and a supervisor starting a thousand grids pays it a thousand times
    while the grids it already started compete for the cpus. A launch that only ``dill``
    can pickle (a factory argument defined in a test, say) goes as it is, and so does one
    that names something of the supervisor's ``__main__``: ``pickle`` refers to it by
    name, which the child (whose ``__main__`` is not that script) could not resolve,
    where ``dill`` carries it by value.
    """
    try:
        packed = pickle.dumps(launch, pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError, ValueError):
        return launch
    return launch if b"__main__" in packed else packed


class FactoryError(ValueError):
    """A factory target that cannot be imported or does not build an Actor."""


def resolve(target: str) -> Any:
    """Import ``"module:attr"`` and return the attribute.

    Raises:
        FactoryError: malformed target, module not importable, or attribute missing.
    """
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise FactoryError(f"factory {target!r}: want 'module:callable'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise FactoryError(f"factory {target!r}: cannot import {module_name}: {exc}") from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise FactoryError(f"factory {target!r}: {module_name} has no {attr}") from None
    return obj


def build(launch: Launch) -> Actor:
    """Call the launch's factory and check that it built an Actor.

    Raises:
        FactoryError: see :func:`resolve`, or the factory returned something else.
    """
    actor = resolve(launch.target)(*launch.args, **launch.kwargs)
    if not isinstance(actor, Actor):
        raise FactoryError(
            f"factory {launch.target!r} returned {type(actor).__name__}, not an Actor"
        )
    return actor


def child_main(packed: Launch | bytes) -> None:
    """Entry point of an actor process; exits with the actor's exit code. ``packed``:
    the launch as :func:`pack` gave it (pickled) or the launch itself."""
    # Signals aimed at the supervisor's process group (Ctrl-C, `timeout`, a shell's kill
    # of the job) must not reach actors directly: the supervisor alone decides the stop
    # order (reverse start order). So each actor leads its own process group.
    os.setpgid(0, 0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _release_forkserver()
    launch: Launch = pickle.loads(packed) if isinstance(packed, bytes) else packed
    set_up_logging(launch.log_level, launch.log_json)
    structlog.contextvars.bind_contextvars(actor=launch.info.name)
    try:
        actor = build(launch)
    except Exception as exc:  # a bad factory is a crash like any other: log it, exit non-zero
        log.error("actor_build_failed", target=launch.target, error=repr(exc))
        sys.exit(EXIT_BAD_FACTORY)
    sys.exit(run_actor(actor, launch.info))


def set_up_logging(level: str, json: bool) -> None:
    """:func:`~gridsup.logging.configure_logging`, unless this process already did it
    with these settings (a forkserver's child inherits the zygote's set-up: done once
    there, it costs the actors none of their own memory).

    Raises:
        ValueError: ``level`` is not a logging level name.
    """
    global _logging
    if _logging != (level, json):
        configure_logging(level, json=json)
        _logging = (level, json)


def logging_env(level: str, json: bool) -> str:
    """The value of :data:`LOGGING_ENV` for these settings."""
    return f"{level}:json" if json else level


def _release_forkserver() -> None:
    """Close the forkserver's "alive" pipe that a forkserver child inherits.

    The forkserver exits when the last write end of that pipe closes; every child holds
    one (so that it could use the forkserver itself), which would keep the forkserver -
    our parent - alive after the supervisor died, hiding the death from getppid().
    """
    module = sys.modules.get("multiprocess.forkserver")
    server = getattr(module, "_forkserver", None)
    fd = getattr(server, "_forkserver_alive_fd", None)
    if isinstance(fd, int):
        with contextlib.suppress(OSError):
            os.close(fd)
        server._forkserver_alive_fd = None  # type: ignore[union-attr]


def run_actor(actor: Actor, info: RuntimeInfo) -> int:
    """Run ``actor`` on a fresh event loop with this process's one zmq Context."""
    ctx = zmq.asyncio.Context()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(actor.run(info, ctx))
    finally:
        # Not asyncio.run(): it waits for every leftover task, and a task that ignored its
        # cancellation (the actor logged actor_tasks_stuck) would keep the process alive.
        loop.close()
        # Every socket was closed with a bounded linger, so term() cannot hang.
        ctx.term()
        sys.stdout.flush()
        sys.stderr.flush()
