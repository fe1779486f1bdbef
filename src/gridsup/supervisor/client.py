"""Talk to a running supervisor's control endpoint (``gridsup status|stop``)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import zmq

from gridsup.messages.control import (
    CONTROL_REPLY_CODEC,
    CONTROL_REQUEST_CODEC,
    ControlReply,
    ControlRequest,
)
from gridsup.supervisor import discovery


class NoSupervisor(RuntimeError):
    """No supervisor runs for this base directory, or it did not answer."""


def ask(base: Path, request: ControlRequest, timeout: float = 5.0) -> ControlReply:
    """Send ``request`` to the supervisor of ``base`` and return its reply.

    Raises:
        NoSupervisor: no live supervisor, no answer within ``timeout`` seconds, or an
            answer that does not decode.
    """
    pointer = discovery.read_pointer(base)
    if pointer is None:
        raise NoSupervisor(f"no supervisor is running (no live supervisor in {base})")
    ctx = zmq.Context()
    try:
        sock = ctx.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(pointer.control)
        sock.send(CONTROL_REQUEST_CODEC.encode(request))
        if not sock.poll(int(timeout * 1000), zmq.POLLIN):
            raise NoSupervisor(
                f"the supervisor (pid {pointer.pid}) did not answer within {timeout:g}s"
            )
        try:
            return CONTROL_REPLY_CODEC.decode(sock.recv())
        except msgspec.DecodeError as exc:
            raise NoSupervisor(
                f"the supervisor (pid {pointer.pid}) sent a bad reply: {exc}"
            ) from exc
    finally:
        ctx.destroy(linger=0)
