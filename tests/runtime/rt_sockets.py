"""The supervisor's end of an actor's control sockets, for tests that play the
supervisor themselves (no Supervisor: they decide when beats come and when they stop)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import zmq

from gridsup.actors import endpoints
from gridsup.actors.sockets import OpenSocket, SocketSpec, SocketType, open_socket


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
