"""The supervisor's end of an actor's control sockets, for tests that play the
supervisor themselves (no Supervisor: they decide when beats come and when they stop)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zmq

from gridsup.runtime import endpoints
from gridsup.runtime.sockets import OpenSocket, SocketSpec, SocketType, open_socket


def supervisor_sockets(
    run_dir: endpoints.RunDir,
) -> tuple[zmq.Context[zmq.Socket[bytes]], zmq.Socket[bytes], zmq.Socket[bytes]]:
    """A context, and bound as the supervisor binds them: PULL for the actor's reports,
    PUB for commands and beats. ``ctx.destroy(linger=0)`` closes all three."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    pull, pub = ctx.socket(zmq.PULL), ctx.socket(zmq.PUB)
    for sock in (pull, pub):
        sock.setsockopt(zmq.LINGER, 0)
    pull.bind(run_dir.endpoint(endpoints.REPORT))
    pub.bind(run_dir.endpoint(endpoints.COMMAND))
    return ctx, pull, pub


def rpc_pair(ctx: zmq.Context[Any], base: Path) -> tuple[OpenSocket, OpenSocket]:
    """A ROUTER and a DEALER connected to it over ``ipc://`` in ``base``, as the
    runtime opens them (for tests of the runtime's read paths in one process)."""
    endpoint = f"ipc://{base}/rpc.sock"
    specs = (
        SocketSpec("router", SocketType.ROUTER, endpoint, bind=True, linger_ms=0),
        SocketSpec("dealer", SocketType.DEALER, endpoint, linger_ms=0),
    )
    router, dealer = (OpenSocket(spec, open_socket(ctx, spec)) for spec in specs)
    return router, dealer


# Requests unanswered at most: well under zmq's default high-water mark (1000), since a
# ROUTER silently drops a reply its full pipe refuses, and a burst the I/O thread has not
# moved yet can fill it (a lost reply would read as a lost wake-up).
IN_FLIGHT = 256


async def send_requests(dealer: OpenSocket, frames: int, replied: Callable[[], int]) -> None:
    """Send ``frames`` requests on ``dealer`` as the runtime does (``after_send`` after
    each), yielding to the loop every third one so that the replies' reader waits
    meanwhile, and never more than :data:`IN_FLIGHT` ahead of ``replied()``."""
    for i in range(frames):
        while i - replied() >= IN_FLIGHT:
            await asyncio.sleep(0)  # a lost wake-up spins here until the test's bound
        dealer.sync_sock.send(b"%d" % i)
        dealer.after_send()
        if i % 3 == 0:
            await asyncio.sleep(0)


def missing_replies(dealer: OpenSocket, got: int, frames: int) -> str:
    """The failure message of a bounded wait for the replies, telling a lost wake-up
    (frames wait unread) from lost frames (nothing waits)."""
    why = "frames wait unread: a lost wake-up" if dealer.readable() else "nothing waits"
    return f"{got} of {frames} replies read; {why}"
