"""One actor process started directly (no supervisor): it exits on its own without
running on_stop when its supervisor goes silent, and a socket it cannot bind is a crash."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import multiprocess
import pytest
import zmq
from rt_sockets import supervisor_sockets

from gridsup.messages.control import COMMAND_CODEC, REPORT_CODEC, Failed, Heartbeat, Ready
from gridsup.runtime import endpoints
from gridsup.runtime.actor import RuntimeInfo
from gridsup.runtime.endpoints import tcp_endpoint
from gridsup.runtime.entry import Launch, child_main


@pytest.fixture
def run_dir() -> Iterator[endpoints.RunDir]:
    base = Path(tempfile.mkdtemp(prefix="gso-", dir="/tmp"))
    try:
        yield endpoints.RunDir.create(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("rt_actors:Steady", ["start lonely"]),
        # A task that swallows its cancellation must not keep an orphan alive (holding a
        # grid's lock, it would block the next supervisor).
        ("rt_actors:Stubborn", ["start lonely", "cancellation ignored"]),
    ],
)
def test_an_actor_that_stops_hearing_its_supervisor_exits_without_side_effects(
    run_dir: endpoints.RunDir, target: str, expected: list[str]
) -> None:
    evidence = run_dir.base / "evidence"
    evidence.mkdir()
    ctx, pull, pub = supervisor_sockets(run_dir)
    info = RuntimeInfo(
        name="lonely",
        kind="strategy",
        run_dir=str(run_dir.path),
        heartbeat_interval=0.1,
        supervisor_timeout=1.0,
    )
    proc = multiprocess.get_context("spawn").Process(
        target=child_main, args=(Launch(info, target, (str(evidence),)),)
    )
    try:
        proc.start()
        assert pull.poll(60_000), "no Ready from the actor"
        assert isinstance(REPORT_CODEC.decode(pull.recv()), Ready)
        # A few supervisor heartbeats, then silence (as from a wedged supervisor).
        beat = COMMAND_CODEC.encode(Heartbeat(actor="supervisor", pid=0))
        for _ in range(3):
            pub.send_multipart([endpoints.BROADCAST_TOPIC, beat])

        proc.join(60)

        assert proc.exitcode == 0
        events = (evidence / "events.log").read_text().splitlines()
        assert events == expected  # on_stop never ran
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join(10)
        ctx.destroy(linger=0)


def test_an_actor_that_cannot_bind_its_socket_crashes_and_says_why(
    run_dir: endpoints.RunDir,
) -> None:
    evidence = run_dir.base / "evidence"
    evidence.mkdir()
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    taken = ctx.socket(zmq.PULL)
    for sock in (pull, taken):
        sock.setsockopt(zmq.LINGER, 0)
    pull.bind(run_dir.endpoint(endpoints.REPORT))
    # TCP, not ipc: binding an ipc path that is in use silently takes it over.
    port = taken.bind_to_random_port("tcp://127.0.0.1")
    info = RuntimeInfo(name="binder", kind="strategy", run_dir=str(run_dir.path))
    proc = multiprocess.get_context("spawn").Process(
        target=child_main,
        args=(
            Launch(info, "rt_actors:Binder", (str(evidence), tcp_endpoint(f"127.0.0.1:{port}"))),
        ),
    )
    try:
        proc.start()
        proc.join(60)

        assert proc.exitcode == 1
        assert pull.poll(10_000), "no report from the actor"
        report = REPORT_CODEC.decode(pull.recv())
        assert isinstance(report, Failed)
        assert "Address already in use" in report.reason
        assert not (evidence / "events.log").exists()  # on_start never ran
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join(10)
        ctx.destroy(linger=0)
