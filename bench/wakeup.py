"""What one message costs a process that was asleep: the floor under the CPU per move.

    .venv/bin/python bench/wakeup.py [--messages 2000] [--gap-ms 2]

Two processes ping-pong ``--messages`` small messages (200 bytes, like an order update),
one every ``--gap-ms`` so that both sides sleep between them and every message wakes
its receiver, as a grid's messages do on a price move. Measured, CPU per round trip
from each process's schedstat (all of its threads), and for ZeroMQ by thread:

- baseline: a plain AF_UNIX socket pair, blocking reads (what a process wake-up costs
  on this host: the kernel and the scheduler);
- ZeroMQ, DEALER to ROUTER over ipc://, blocking reads (the actors' sockets): every
  message also crosses each side's ZeroMQ I/O thread, two more threads woken;
- the same messages sent back to back, 100 at a time (a busy receiver: the wake-ups are
  shared by the burst).

Printed: CPU per round trip on each side and per message received, and the ratio of
ZeroMQ to the baseline. A strategy actor on a filled move receives three messages (the
fill, the save's Ack, the placement's Ack: bench/fleet.py counts its wake-ups), so three
times the ZeroMQ figure is what its move costs before any Python of ours runs.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable

from fleet import cpu_ms

PAYLOAD = b"x" * 200


def thread_cpu_s(pid: int) -> dict[str, float]:
    """CPU seconds of ``pid``'s threads by name ("main" for its first)."""
    out: dict[str, float] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as comm:
            name = "main" if int(tid) == pid else comm.read().strip()
        with open(f"/proc/{pid}/task/{tid}/schedstat") as stat:
            out[name] = out.get(name, 0.0) + int(stat.read().split()[0]) / 1e9
    return out


def measured(
    serve: Callable[[], None], ask: Callable[[int], None], messages: int
) -> tuple[float, float, dict[str, float]]:
    """Fork a server running ``serve``, run ``ask(messages)`` here; the CPU per round
    trip of this side and of the server, and the server's CPU by thread (s)."""
    pid = os.fork()
    if pid == 0:
        try:
            serve()
        finally:
            os._exit(0)
    time.sleep(0.3)  # the server is up and asleep
    me = os.getpid()
    mine0, theirs0, threads0 = cpu_ms(me), cpu_ms(pid), thread_cpu_s(pid)
    ask(messages)
    mine, theirs, threads = cpu_ms(me) - mine0, cpu_ms(pid) - theirs0, thread_cpu_s(pid)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    by_thread = {name: (threads[name] - threads0.get(name, 0.0)) / messages for name in threads}
    return mine / 1000 / messages, theirs / 1000 / messages, by_thread


def unix_pair(messages: int, gap: float) -> tuple[float, float, dict[str, float]]:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)

    def serve() -> None:
        left.close()
        while True:
            right.send(right.recv(4096))

    def ask(count: int) -> None:
        for _ in range(count):
            left.send(PAYLOAD)
            left.recv(4096)
            time.sleep(gap)

    result = measured(serve, ask, messages)
    left.close()
    right.close()
    return result


def zmq_pair(
    messages: int, gap: float, burst: int, where: str
) -> tuple[float, float, dict[str, float]]:
    import zmq

    endpoint = f"ipc://{where}/wakeup-{burst}.sock"

    def serve() -> None:
        ctx = zmq.Context()
        router = ctx.socket(zmq.ROUTER)
        router.bind(endpoint)
        while True:
            router.send_multipart(router.recv_multipart())

    def ask(count: int) -> None:
        ctx = zmq.Context()
        dealer = ctx.socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.connect(endpoint)
        dealer.send(PAYLOAD)  # the connection is made before the clock starts
        dealer.recv()
        for _ in range(count // burst):
            for _ in range(burst):
                dealer.send(PAYLOAD)
            for _ in range(burst):
                dealer.recv()
            time.sleep(gap)
        dealer.close()
        ctx.term()

    return measured(serve, ask, messages)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--gap-ms", type=float, default=2.0)
    args = parser.parse_args()
    gap = args.gap_ms / 1000
    where = tempfile.mkdtemp(prefix="gswake-", dir="/tmp")
    rows = [
        ("AF_UNIX socket pair (baseline)", unix_pair(args.messages, gap)),
        ("ZeroMQ DEALER-ROUTER ipc://", zmq_pair(args.messages, gap, 1, where)),
        ("ZeroMQ, bursts of 100", zmq_pair(args.messages, gap, 100, where)),
    ]
    base = rows[0][1][1]
    print(f"{args.messages} round trips, one every {args.gap_ms} ms, {os.cpu_count()} cpus")
    print(f"{'':32} {'asker/trip':>11} {'server/trip':>12} {'vs baseline':>12}  server by thread")
    for label, (mine, theirs, threads) in rows:
        split = ", ".join(f"{name} {us * 1e6:.0f}" for name, us in sorted(threads.items()))
        ratio = theirs / base
        print(f"{label:32} {mine * 1e6:9.1f} us {theirs * 1e6:10.1f} us {ratio:11.1f}x  {split}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
