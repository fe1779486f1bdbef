"""Message bus throughput and latency: the runtime vs bare pyzmq + msgspec vs
multiprocessing.Queue + pickle, measured in the same run.

    .venv/bin/python bench/bus.py [--quick]

Throughput: one publisher process sends Tick messages as fast as it can over PUB/SUB
(ipc://, default high-water marks: a slow subscriber drops, latest value wins) to 1, 10
and 100 subscriber processes; we print ticks/s published, ticks/s delivered (all
subscribers together) and the drops. Both ends are runtime actors under the real
Supervisor, or bare processes with blocking pyzmq, or Queue.put/get (no drops: unbounded).
Subscribers and publisher meet with a hello/ack handshake before the clock starts (no
"sleep to let subscribers join").

Latency: a ping actor sends a Tick to an echo actor (DEALER -> ROUTER) which sends it
back; we print the round-trip p50/p99, with 0 and with 100 idle actors heartbeating
under the same supervisor (all Ready before the ping starts). Targets: runtime >= 70 %
of bare pyzmq throughput; p99 < 500 us with 100 idle actors.

Keep this module's top level light: children import it to find their actor classes.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import msgspec
import zmq

from gridsup.messages.control import REPORT_CODEC, Heartbeat, StatusValue
from gridsup.messages.market import MARKET_CODEC, Tick
from gridsup.runtime.actor import Actor
from gridsup.runtime.sockets import Receiver, SocketSpec, SocketType

TOPIC = b"BTC/USDT"
PRICE = Decimal("64999.99")
HELLO, END = 0, -1


def _tick(i: int) -> Tick:
    return Tick(symbol="BTC/USDT", timestamp=i, last=PRICE)


def _report(name: str, **status: StatusValue) -> bytes:
    return REPORT_CODEC.encode(Heartbeat(actor=name, pid=0, status=status))


# -- runtime actors ----------------------------------------------------------------------


class Subscriber(Actor):
    def __init__(self, ticks: str, acks: str) -> None:
        super().__init__()
        self.ticks, self.acks = ticks, acks
        self.received = 0
        self.first = 0.0
        self.cpu_first = 0.0
        self.greeted = self.done = False

    def sockets(self) -> list[SocketSpec]:
        return [
            SocketSpec(
                "ticks",
                SocketType.SUB,
                self.ticks,
                recv=Receiver(MARKET_CODEC, self.on_tick),
                subscribe=(TOPIC,),
            ),
            SocketSpec("acks", SocketType.PUSH, self.acks, send=REPORT_CODEC),
        ]

    def on_tick(self, message: Any, envelope: list[bytes]) -> None:
        ts = message.timestamp
        if ts > 0:
            if not self.received:
                self.first = time.monotonic()
                self.cpu_first = time.process_time()
            self.received += 1
        elif ts == HELLO:
            if not self.greeted:
                self.greeted = True
                self.send_frames("acks", [_report(self.name, kind="hello")])
        elif not self.done:
            self.done = True
            self.send_frames(
                "acks",
                [
                    _report(
                        self.name,
                        kind="result",
                        received=self.received,
                        first=self.first,
                        last=time.monotonic(),
                        cpu=time.process_time() - self.cpu_first,
                    )
                ],
            )


class Publisher(Actor):
    def __init__(
        self, ticks: str, acks: str, results: str, subscribers: int, count: int, pace: float = 0.0
    ) -> None:
        super().__init__()
        self.endpoints = (ticks, acks, results)
        self.subscribers, self.count, self.pace = subscribers, count, pace
        self.hellos: set[str] = set()
        self.results: dict[str, dict[str, StatusValue]] = {}

    def sockets(self) -> list[SocketSpec]:
        ticks, acks, results = self.endpoints
        return [
            SocketSpec("ticks", SocketType.PUB, ticks, bind=True, send=MARKET_CODEC),
            SocketSpec(
                "acks", SocketType.PULL, acks, bind=True, recv=Receiver(REPORT_CODEC, self.on_ack)
            ),
            SocketSpec("results", SocketType.PUSH, results, send=REPORT_CODEC),
        ]

    async def on_start(self) -> None:
        self.spawn(self._publish())

    def on_ack(self, message: Any, envelope: list[bytes]) -> None:
        if message.status.get("kind") == "hello":
            self.hellos.add(message.actor)
        else:
            self.results[message.actor] = message.status

    async def _publish(self) -> None:
        while len(self.hellos) < self.subscribers:
            self.send("ticks", _tick(HELLO), topic=TOPIC)
            await asyncio.sleep(0.01)
        t0 = time.monotonic()
        for i in range(1, self.count + 1):
            self.send("ticks", _tick(i), topic=TOPIC)
            if self.pace:
                await asyncio.sleep(self.pace)
            elif not i % 2000:
                await asyncio.sleep(0)  # let the loop breathe (heartbeats)
        t1 = time.monotonic()
        while len(self.results) < self.subscribers:
            self.send("ticks", _tick(END), topic=TOPIC)
            await asyncio.sleep(0.01)
        self.send_frames(
            "results",
            [_report(self.name, **_summary(t0, t1, self.count, list(self.results.values())))],
        )


def _summary(
    t0: float, t1: float, count: int, results: list[dict[str, Any]]
) -> dict[str, StatusValue]:
    received = sum(int(r["received"]) for r in results)
    last = max(float(r["last"]) for r in results)
    return {
        "published_per_s": count / (t1 - t0),
        "delivered_per_s": received / (last - t0),
        "drops": count * len(results) - received,
        "expected": count * len(results),
        # Whole-process CPU (all threads) per message received, mean of the subscribers.
        "cpu_us_per_msg": 1e6
        * sum(float(r["cpu"]) / max(1, int(r["received"])) for r in results)
        / len(results),
    }


class Echo(Actor):
    def __init__(self, rpc: str) -> None:
        super().__init__()
        self.rpc = rpc

    def sockets(self) -> list[SocketSpec]:
        return [
            SocketSpec(
                "rpc",
                SocketType.ROUTER,
                self.rpc,
                bind=True,
                recv=Receiver(MARKET_CODEC, self.on_request),
                send=MARKET_CODEC,
            )
        ]

    def on_request(self, message: Any, envelope: list[bytes]) -> None:
        self.send("rpc", message, envelope=envelope)


class Ping(Actor):
    def __init__(self, rpc: str, results: str, samples: int, warmup: int) -> None:
        super().__init__()
        self.rpc, self.results = rpc, results
        self.samples, self.warmup = samples, warmup
        self.rtts: list[int] = []
        self.sent = 0

    def sockets(self) -> list[SocketSpec]:
        return [
            SocketSpec(
                "rpc",
                SocketType.DEALER,
                self.rpc,
                recv=Receiver(MARKET_CODEC, self.on_reply),
                send=MARKET_CODEC,
            ),
            SocketSpec("results", SocketType.PUSH, self.results, send=REPORT_CODEC),
        ]

    async def on_start(self) -> None:
        self._ping()

    def _ping(self) -> None:
        self.sent = time.perf_counter_ns()
        self.send("rpc", _tick(len(self.rtts) + 1))

    def on_reply(self, message: Any, envelope: list[bytes]) -> None:
        self.rtts.append(time.perf_counter_ns() - self.sent)
        if len(self.rtts) < self.samples + self.warmup:
            self._ping()
        else:
            self.send_frames(
                "results", [_report(self.name, **_percentiles(self.rtts[self.warmup :]))]
            )


class Idle(Actor):
    """Heartbeats and nothing else."""


def _percentiles(rtts_ns: list[int]) -> dict[str, StatusValue]:
    ordered = sorted(rtts_ns)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000  # noqa: E731
    return {"p50_us": pick(0.50), "p99_us": pick(0.99), "samples": len(ordered)}


# -- bare pyzmq + msgspec ---------------------------------------------------------------


def bare_subscriber(name: str, ticks: str, acks: str) -> None:
    decoder = msgspec.msgpack.Decoder(Tick)
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, TOPIC)
    sub.connect(ticks)
    push = ctx.socket(zmq.PUSH)
    push.connect(acks)
    received, first, cpu_first, greeted = 0, 0.0, 0.0, False
    while True:
        tick = decoder.decode(sub.recv_multipart()[-1])
        ts = tick.timestamp
        if ts > 0:
            if not received:
                first = time.monotonic()
                cpu_first = time.process_time()
            received += 1
        elif ts == HELLO:
            if not greeted:
                greeted = True
                push.send(_report(name, kind="hello"))
        else:
            push.send(
                _report(
                    name,
                    kind="result",
                    received=received,
                    first=first,
                    last=time.monotonic(),
                    cpu=time.process_time() - cpu_first,
                )
            )
            break
    push.close(linger=1000)
    sub.close(linger=0)
    ctx.term()


def bare_publisher(
    ticks: str, acks: str, results: str, subscribers: int, count: int, pace: float = 0.0
) -> None:
    encoder = msgspec.msgpack.Encoder()
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.bind(ticks)
    pull = ctx.socket(zmq.PULL)
    pull.bind(acks)
    out = ctx.socket(zmq.PUSH)
    out.connect(results)
    hellos: set[str] = set()
    while len(hellos) < subscribers:
        pub.send_multipart([TOPIC, encoder.encode(_tick(HELLO))])
        while pull.poll(10):
            hellos.add(REPORT_CODEC.decode(pull.recv()).actor)  # type: ignore[union-attr]
    t0 = time.monotonic()
    for i in range(1, count + 1):
        pub.send_multipart([TOPIC, encoder.encode(_tick(i))])
        if pace:
            time.sleep(pace)
    t1 = time.monotonic()
    got: list[dict[str, Any]] = []
    while len(got) < subscribers:
        pub.send_multipart([TOPIC, encoder.encode(_tick(END))])
        while pull.poll(10):
            report = REPORT_CODEC.decode(pull.recv())
            if report.status.get("kind") == "result":  # type: ignore[union-attr]
                got.append(report.status)  # type: ignore[union-attr]
    out.send(_report("bare", **_summary(t0, t1, count, got)))
    for sock in (pub, pull, out):
        sock.close(linger=1000)
    ctx.term()


def bare_echo(rpc: str) -> None:
    codec = msgspec.msgpack.Decoder(Tick), msgspec.msgpack.Encoder()
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.bind(rpc)
    while True:
        ident, payload = router.recv_multipart()
        tick = codec[0].decode(payload)
        if tick.timestamp == END:
            break
        router.send_multipart([ident, codec[1].encode(tick)])
    router.close(linger=0)
    ctx.term()


def bare_ping(rpc: str, results: str, samples: int, warmup: int) -> None:
    decoder, encoder = msgspec.msgpack.Decoder(Tick), msgspec.msgpack.Encoder()
    ctx = zmq.Context()
    dealer = ctx.socket(zmq.DEALER)
    dealer.connect(rpc)
    rtts = []
    for i in range(samples + warmup):
        t = time.perf_counter_ns()
        dealer.send(encoder.encode(_tick(i + 1)))
        decoder.decode(dealer.recv())
        rtts.append(time.perf_counter_ns() - t)
    dealer.send(encoder.encode(_tick(END)))
    out = ctx.socket(zmq.PUSH)
    out.connect(results)
    out.send(_report("bare", **_percentiles(rtts[warmup:])))
    for sock in (dealer, out):
        sock.close(linger=1000)
    ctx.term()


# -- multiprocessing.Queue + pickle ------------------------------------------------------


def queue_subscriber(name: str, inbox: Any, results: Any) -> None:
    received, first, cpu_first = 0, 0.0, 0.0
    while True:
        tick = inbox.get()
        if tick.timestamp == END:
            break
        if not received:
            first = time.monotonic()
            cpu_first = time.process_time()
        received += 1
    last, cpu = time.monotonic(), time.process_time() - cpu_first
    results.put({"received": received, "first": first, "last": last, "cpu": cpu})


def queue_publisher(inboxes: list[Any], results: Any, count: int, out: Any) -> None:
    t0 = time.monotonic()
    for i in range(1, count + 1):
        tick = _tick(i)
        for inbox in inboxes:
            inbox.put(tick)
    t1 = time.monotonic()
    for inbox in inboxes:
        inbox.put(_tick(END))
    got = [results.get() for _ in inboxes]
    out.put(_summary(t0, t1, count, got))


def queue_echo(inbox: Any, outbox: Any) -> None:
    while (tick := inbox.get()).timestamp != END:
        outbox.put(tick)


# -- orchestration (runs in the bench process only) ---------------------------------------


def main() -> None:  # noqa: C901  (a script: one flat sequence of measurements)
    import argparse
    import importlib
    import os
    import shutil
    import sys
    import tempfile
    from pathlib import Path

    import zmq.asyncio

    from gridsup.logging import configure_logging
    from gridsup.runtime.endpoints import ensure_private_dir
    from gridsup.supervisor.processes import make_context
    from gridsup.supervisor.runner import Supervisor
    from gridsup.supervisor.spec import ChildSpec, Group, Policy

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer ticks and samples")
    parser.add_argument(
        "--only", choices=["throughput", "latency", "cpu"], help="one part of the bench"
    )
    args = parser.parse_args()
    configure_logging("WARNING")
    scale = 0.2 if args.quick else 1.0
    ticks_for = {1: int(300_000 * scale), 10: int(60_000 * scale), 100: int(6_000 * scale)}
    # Enough samples to span several heartbeat intervals (about 5 s at 100 us each).
    samples, warmup = int(50_000 * scale), 1_000
    root = ensure_private_dir(Path(tempfile.mkdtemp(prefix="gsb-", dir="/tmp")))
    work = ensure_private_dir(root / "w")
    ep = lambda name: f"ipc://{work}/{name}.sock"  # noqa: E731
    policy = Policy(
        ready_timeout=120.0, heartbeat_interval=1.0, heartbeat_liveness=30, stop_timeout=30.0
    )
    here = "bus"  # children import this module by name (sys.path[0] is bench/)
    # Process targets by reference to that module: a forkserver child does not re-run
    # this script, so functions of __main__ would arrive without their module's globals.
    fns = importlib.import_module(here)

    def runtime(specs: list[ChildSpec]) -> dict[str, Any]:
        sup = Supervisor(specs, base=root / "sup", start_method="forkserver", log_level="WARNING")

        async def collect() -> dict[str, Any]:
            ctx = zmq.asyncio.Context()
            pull = ctx.socket(zmq.PULL)
            pull.bind(ep("results"))
            try:
                report = REPORT_CODEC.decode(await pull.recv())
            finally:
                pull.close(linger=0)
                ctx.term()
            while sup.supervision is None:
                await asyncio.sleep(0.01)
            sup.supervision.stop()
            return dict(report.status)  # type: ignore[union-attr]

        async def go() -> dict[str, Any]:
            task = asyncio.get_running_loop().create_task(collect())
            await sup.run()
            return await task

        return asyncio.run(go())

    def spec(name: str, cls: str, *a: Any, group: Group = Group.STRATEGY) -> ChildSpec:
        return ChildSpec(
            name=name,
            kind=group.name.lower(),
            target=f"{here}:{cls}",
            args=a,
            group=group,
            policy=policy,
        )

    mp = make_context("forkserver")

    def bare(targets: list[tuple[Any, tuple[Any, ...]]]) -> dict[str, Any]:
        ctx = zmq.Context()
        pull = ctx.socket(zmq.PULL)
        pull.bind(ep("results"))
        procs = [mp.Process(target=t, args=a) for t, a in targets]
        for p in procs:
            p.start()
        report = REPORT_CODEC.decode(pull.recv())
        for p in procs:
            p.join(60)
        pull.close(linger=0)
        ctx.term()
        return dict(report.status)  # type: ignore[union-attr]

    def queued_fanout(n: int, count: int) -> dict[str, Any]:
        inboxes = [mp.Queue() for _ in range(n)]
        results, out = mp.Queue(), mp.Queue()
        procs = [
            mp.Process(target=fns.queue_subscriber, args=(f"s{i}", q, results))
            for i, q in enumerate(inboxes)
        ]
        procs.append(mp.Process(target=fns.queue_publisher, args=(inboxes, results, count, out)))
        for p in procs:
            p.start()
        summary = out.get()
        for p in procs:
            p.join(60)
        return summary

    def queued_rtt() -> dict[str, Any]:
        inbox, outbox = mp.Queue(), mp.Queue()
        echo = mp.Process(target=fns.queue_echo, args=(inbox, outbox))
        echo.start()
        rtts = []
        for i in range(samples + warmup):
            t = time.perf_counter_ns()
            inbox.put(_tick(i + 1))
            outbox.get()
            rtts.append(time.perf_counter_ns() - t)
        inbox.put(_tick(END))
        echo.join(10)
        return _percentiles(rtts[warmup:])

    print(
        f"python {sys.version.split()[0]}, pyzmq {zmq.__version__}, libzmq {zmq.zmq_version()}, "
        f"msgspec {msgspec.__version__}, {os.cpu_count()} cpus, "
        f"load average {' / '.join(f'{x:.1f}' for x in os.getloadavg())}",
        flush=True,
    )
    print("\nthroughput: Tick over PUB/SUB (ipc://), one publisher process", flush=True)
    print(
        f"{'transport':<22} {'subs':>4} {'ticks':>7} {'published/s':>12} "
        f"{'delivered/s':>12} {'drops':>9}",
        flush=True,
    )
    fanout: dict[tuple[str, int], dict[str, Any]] = {}

    def runtime_fanout(n: int, count: int, pace: float = 0.0) -> dict[str, Any]:
        ticks, acks, results = ep("ticks"), ep("acks"), ep("results")
        publisher = spec(
            "pub", "Publisher", ticks, acks, results, n, count, pace, group=Group.MARKET_DATA
        )
        return runtime([publisher] + [spec(f"sub{i}", "Subscriber", ticks, acks) for i in range(n)])

    def bare_fanout(n: int, count: int, pace: float = 0.0) -> dict[str, Any]:
        ticks, acks, results = ep("ticks"), ep("acks"), ep("results")
        return bare(
            [(fns.bare_publisher, (ticks, acks, results, n, count, pace))]
            + [(fns.bare_subscriber, (f"s{i}", ticks, acks)) for i in range(n)]
        )

    transports = {
        "runtime": runtime_fanout,
        "bare pyzmq+msgspec": bare_fanout,
        "mp.Queue+pickle": queued_fanout,
    }
    for n, count in ticks_for.items() if args.only in (None, "throughput") else []:
        for label, measure in transports.items():
            r = fanout[label, n] = measure(n, count)
            print(
                f"{label:<22} {n:>4} {count:>7} {r['published_per_s']:>12,.0f} "
                f"{r['delivered_per_s']:>12,.0f} {r['drops']:>9,}",
                flush=True,
            )
    # One tick per millisecond: every message is a wake-up of its own, as for a strategy
    # actor on a live feed; what matters there is the CPU each message costs the receiver.
    paced_subs, paced_ticks, pace = 10, int(3_000 * scale), 0.001
    print(
        f"\nCPU per received message: {paced_subs} subscribers, one tick every "
        f"{pace * 1000:g} ms (whole-process CPU time, all threads)",
        flush=True,
    )
    print(f"{'transport':<22} {'subs':>4} {'ticks':>7} {'cpu us/msg':>12}", flush=True)
    cpu: dict[str, float] = {}
    paced = {"runtime": runtime_fanout, "bare pyzmq+msgspec": bare_fanout}
    for label, measure in paced.items() if args.only in (None, "cpu") else []:
        r = measure(paced_subs, paced_ticks, pace)
        cpu[label] = r["cpu_us_per_msg"]
        print(f"{label:<22} {paced_subs:>4} {paced_ticks:>7} {cpu[label]:>12.1f}", flush=True)
    print("\nround trip: Tick DEALER -> ROUTER echo -> back (ipc://)", flush=True)
    print(f"{'transport':<22} {'idle actors':>11} {'p50 us':>8} {'p99 us':>8}", flush=True)
    rtt: dict[tuple[str, int], dict[str, Any]] = {}
    if args.only in (None, "latency"):
        for idle in (0, 100):
            specs = [
                spec("echo", "Echo", ep("rpc"), group=Group.EXECUTION),
                spec("ping", "Ping", ep("rpc"), ep("results"), samples, warmup),
                # Started (and Ready) before the ping group: the samples measure idle
                # actors, not their start-up.
                *(spec(f"idle{i}", "Idle", group=Group.MARKET_DATA) for i in range(idle)),
            ]
            r = rtt["runtime", idle] = runtime(specs)
            print(f"{'runtime':<22} {idle:>11} {r['p50_us']:>8.0f} {r['p99_us']:>8.0f}", flush=True)
        r = rtt["bare", 0] = bare(
            [
                (fns.bare_echo, (ep("rpc"),)),
                (fns.bare_ping, (ep("rpc"), ep("results"), samples, warmup)),
            ]
        )
        print(
            f"{'bare pyzmq+msgspec':<22} {0:>11} {r['p50_us']:>8.0f} {r['p99_us']:>8.0f}",
            flush=True,
        )
        r = queued_rtt()
        print(
            f"{'mp.Queue+pickle':<22} {0:>11} {r['p50_us']:>8.0f} {r['p99_us']:>8.0f}", flush=True
        )

    print("\ntargets", flush=True)
    if fanout:
        bare_1 = fanout["bare pyzmq+msgspec", 1]["delivered_per_s"]
        ratio = fanout["runtime", 1]["delivered_per_s"] / bare_1
        print(f"  runtime / bare delivered throughput, 1 subscriber: {ratio:.0%} (target >= 70%)")
    if rtt:
        p99 = rtt["runtime", 100]["p99_us"]
        print(f"  runtime p99 round trip with 100 idle actors: {p99:.0f} us (target < 500 us)")
    print(f"  load average at the end {' / '.join(f'{x:.1f}' for x in os.getloadavg())}")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
