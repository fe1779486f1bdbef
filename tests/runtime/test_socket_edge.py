"""The edge rule of :class:`OpenSocket`, made to happen on purpose: a send on a DEALER
processes the zmq commands that announced a reply, so the descriptor no longer fires for
it; only ``after_send`` wakes the parked reader. The 20,000-frame tests beside this one
rarely hit that window (zmq processes commands on a send at most about once a
millisecond), this one hits it every time."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import zmq
import zmq.asyncio
from rt_sockets import rpc_pair

from gridsup.runtime.sockets import OpenSocket

WAKE_S = 2.0  # a lost wake-up never comes; a kept one comes in the next loop iteration
ARRIVE_S = 0.02  # for the reply's command to reach the dealer's mailbox


def _park(dealer: OpenSocket, how: str, woke: asyncio.Future[None]) -> asyncio.Task[None] | None:
    """Wait for the dealer's next frame the way ``how`` names, resolving ``woke`` (the
    waiting task, if it takes one)."""
    if how == "wait_readable":

        async def wait() -> None:
            await dealer.wait_readable()
            woke.set_result(None)

        return asyncio.ensure_future(wait())

    def reader() -> bool:
        try:
            dealer.sync_sock.recv(zmq.NOBLOCK)
        except zmq.Again:
            return False
        if not woke.done():
            woke.set_result(None)
        return False

    dealer.read_with(reader)
    return None


@pytest.mark.parametrize("how", ["wait_readable", "read_with"])
def test_a_send_that_takes_the_edge_of_a_reply_still_wakes_its_reader(base: Path, how: str) -> None:
    async def scenario() -> str:
        ctx = zmq.asyncio.Context()
        router, dealer = rpc_pair(ctx, base)
        waiting: asyncio.Task[None] | None = None
        try:
            dealer.sync_sock.send(b"hello")  # the router learns the dealer's identity
            assert router.sync_sock.poll(int(WAKE_S * 1000)), "no request at the router"
            identity, _ = router.sync_sock.recv_multipart()

            woke: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            waiting = _park(dealer, how, woke)
            for _ in range(3):
                await asyncio.sleep(0)
            assert not woke.done(), "woken with nothing to read"

            router.sync_sock.send_multipart([identity, b"reply"])
            time.sleep(ARRIVE_S)  # the loop is held: nobody sees the descriptor fire
            dealer.sync_sock.send(b"again")  # processes the reply's command: edge gone
            dealer.after_send()
            try:
                await asyncio.wait_for(asyncio.shield(woke), WAKE_S)
            except TimeoutError:
                why = "a frame waits" if dealer.readable() else "nothing waits"
                return f"not woken ({why})"
            return "woken"
        finally:
            if waiting is not None:
                waiting.cancel()
                await asyncio.gather(waiting, return_exceptions=True)
            router.close(0)
            dealer.close(0)
            ctx.term()

    assert asyncio.run(scenario()) == "woken"
