"""The supervisor's end of an actor's control sockets, for tests that play the
supervisor themselves (no Supervisor: they decide when beats come and when they stop)."""

from __future__ import annotations

import zmq

from gridsup.actors import endpoints


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
