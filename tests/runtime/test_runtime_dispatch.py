"""Frames are dispatched from the socket's file-descriptor callback (no task per
socket): every frame, in order, across batches; sends from inside the reader never lose
a wake-up; a socket handler that raises still crashes the actor; a Requester reads its
replies before Ready. Each actor runs in a process of its own, against real sockets."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path

import multiprocess
import pytest
import zmq
import zmq.asyncio
from rt_sockets import missing_replies, rpc_pair, send_requests, supervisor_sockets

from gridsup.messages.control import REPORT_CODEC, Failed, Ready
from gridsup.messages.market import MARKET_CODEC, Tick
from gridsup.messages.store import STORE_REPLY_CODEC, STORE_REQUEST_CODEC, StateLoaded
from gridsup.runtime import endpoints
from gridsup.runtime.actor import RuntimeInfo
from gridsup.runtime.dispatch import _BATCH
from gridsup.runtime.entry import Launch, child_main
from gridsup.runtime.sockets import drain

WAIT_MS = 60_000  # a hard bound on every wait: a lost wake-up fails, it does not hang


def _tick(ts: int) -> bytes:
    return MARKET_CODEC.encode(Tick(symbol="X/Y", timestamp=ts, last=Decimal(1)))


def _start(
    base: Path, name: str, target: str, *args: object
) -> tuple[
    endpoints.RunDir, multiprocess.Process, zmq.Context[zmq.Socket[bytes]], zmq.Socket[bytes]
]:
    run_dir = endpoints.RunDir.create(base)
    evidence = base / "evidence"
    evidence.mkdir()
    ctx, pull, _pub = supervisor_sockets(run_dir)
    # Nobody beats: the actor must not leave as orphaned while a test runs.
    info = RuntimeInfo(
        name=name, kind="strategy", run_dir=str(run_dir.path), supervisor_timeout=3600
    )
    proc = multiprocess.get_context("spawn").Process(
        target=child_main, args=(Launch(info, target, (str(evidence), *args)),)
    )
    proc.start()
    return run_dir, proc, ctx, pull


def _events(base: Path) -> list[str]:
    path = base / "evidence" / "events.log"
    return path.read_text().splitlines() if path.exists() else []


def _reports(pull: zmq.Socket[bytes]) -> list[object]:
    out = []
    while pull.poll(0):
        out.append(REPORT_CODEC.decode(pull.recv()))
    return out


def _wait_ready(pull: zmq.Socket[bytes]) -> None:
    while True:
        assert pull.poll(WAIT_MS), "no Ready from the actor"
        if isinstance(REPORT_CODEC.decode(pull.recv()), Ready):
            return


def _finish(proc: multiprocess.Process, ctx: zmq.Context[zmq.Socket[bytes]]) -> None:
    if proc.is_alive():
        proc.kill()
        proc.join(10)
    ctx.destroy(linger=0)


def test_a_burst_of_several_batches_arrives_whole_and_in_order(base: Path) -> None:
    count = 4 * _BATCH + 7
    run_dir, proc, ctx, pull = _start(base, "sink", "rt_actors:OrderedSink")
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 0)
    push.setsockopt(zmq.SNDHWM, 0)  # no limit: the whole burst is queued at once
    try:
        _wait_ready(pull)
        push.connect(run_dir.endpoint("ticks-sink"))
        for ts in range(1, count + 1):
            push.send(_tick(ts))
            if ts == count // 2:
                push.send(b"\xc1 not msgpack")  # garbage in the middle: dropped, counted
        push.send(_tick(-1))
        proc.join(WAIT_MS / 1000)

        assert proc.exitcode == 0
        got = [line for line in _events(base) if line.startswith("got ")]
        assert got == ["got " + ",".join(str(ts) for ts in range(1, count + 1))]
        assert "dropped 1" in _events(base)
    finally:
        _finish(proc, ctx)


def test_sends_from_a_handler_never_lose_the_wake_up_of_replies(base: Path) -> None:
    total = 20_000
    endpoint = f"ipc://{base}/rpc.sock"
    _, proc, ctx, _ = _start(base, "pinger", "rt_actors:PipelinedPinger", endpoint, total)
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.bind(endpoint)
    echoed = 0
    try:
        # Echo until the actor has all its replies and leaves; a lost wake-up in the
        # actor would leave it waiting forever with replies queued.
        deadline = time.monotonic() + WAIT_MS / 1000
        while proc.is_alive() and time.monotonic() < deadline:
            while router.poll(100):
                router.send_multipart(router.recv_multipart())
                echoed += 1
        proc.join(WAIT_MS / 1000)

        assert proc.exitcode == 0
        assert echoed == total
        assert f"replies {total} dropped 0" in _events(base)
    finally:
        _finish(proc, ctx)


@pytest.mark.parametrize("mode", ["raise", "async"])
def test_a_handler_that_raises_or_returns_an_awaitable_crashes_the_actor(
    base: Path, mode: str
) -> None:
    run_dir, proc, ctx, pull = _start(base, "raiser", "rt_actors:RaisingSink", mode)
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 0)
    try:
        _wait_ready(pull)
        push.connect(run_dir.endpoint("ticks-raiser"))
        push.send(_tick(1))
        push.send(_tick(2))
        proc.join(WAIT_MS / 1000)

        assert proc.exitcode == 1
        failed = [r for r in _reports(pull) if isinstance(r, Failed)]
        assert len(failed) == 1
        assert ("RuntimeError" if mode == "raise" else "TypeError") in failed[0].reason
        # The socket's reading stopped at the crash: the second tick was never handled.
        assert [e for e in _events(base) if e.startswith("message")] == ["message 1"]
        assert not [e for e in _events(base) if e.startswith("stop")]  # no on_stop
    finally:
        _finish(proc, ctx)


def test_a_requester_gets_its_replies_during_on_start_before_ready(base: Path) -> None:
    endpoint = f"ipc://{base}/store.sock"
    _, proc, ctx, pull = _start(base, "early", "rt_actors:EarlyRequester", endpoint)
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.bind(endpoint)
    try:
        requests = []
        while len(requests) < 2:
            assert router.poll(WAIT_MS), "no request from the actor"
            identity, payload = router.recv_multipart()
            requests.append(STORE_REQUEST_CODEC.decode(payload))
        assert not any(isinstance(r, Ready) for r in _reports(pull))  # still starting
        for request in requests:
            reply = StateLoaded(request_id=request.request_id, grid_id="g", version=0)
            router.send_multipart([identity, STORE_REPLY_CODEC.encode(reply)])
        _wait_ready(pull)

        fired, awaited = (r.request_id for r in requests)
        assert f"reply {awaited} callback {fired}" in _events(base)
    finally:
        _finish(proc, ctx)


def test_readers_that_send_from_inside_never_miss_a_frame(base: Path) -> None:
    """In one process, both ends read by :meth:`OpenSocket.read_with`: the ROUTER echoes
    from inside its reader, the DEALER's requests go from a task while its reader waits
    for the replies -- each send may consume the descriptor's edge of frames that came
    meanwhile."""
    frames = 20_000

    async def scenario() -> int:
        ctx = zmq.asyncio.Context()
        router, dealer = rpc_pair(ctx, base)
        done = asyncio.get_running_loop().create_future()
        got = 0

        def echo(request: list[bytes]) -> None:
            router.sync_sock.send_multipart(request)
            router.after_send()

        def reply(frames_: list[bytes]) -> None:
            nonlocal got
            got += 1
            if got == frames and not done.done():
                done.set_result(got)

        router.read_with(lambda: drain(router.sync_sock, echo, 64))
        dealer.read_with(lambda: drain(dealer.sync_sock, reply, 64))

        task = asyncio.ensure_future(send_requests(dealer, frames, lambda: got))
        try:
            # A missed wake-up would wait forever; the bound only turns that into a failure.
            return await asyncio.wait_for(done, WAIT_MS / 1000)
        except TimeoutError:
            pytest.fail(missing_replies(dealer, got, frames))
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            router.close(0)
            dealer.close(0)
            ctx.term()

    assert asyncio.run(scenario()) == frames
