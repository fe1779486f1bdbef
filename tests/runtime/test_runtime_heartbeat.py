"""Heartbeats answer the supervisor's beat; the actor's own timer is only a fallback.
And the cheap wait (one reader on zmq's file descriptor) never misses a frame."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

import multiprocess
import pytest
import zmq
import zmq.asyncio
from rt_sockets import missing_replies, rpc_pair, send_requests, supervisor_sockets

from gridsup.messages.control import COMMAND_CODEC, REPORT_CODEC, Heartbeat, Ready
from gridsup.runtime import endpoints
from gridsup.runtime.actor import RuntimeInfo
from gridsup.runtime.entry import Launch, child_main
from gridsup.supervisor.runner import BEAT_GROUP, BeatPlan, Supervisor
from gridsup.supervisor.spec import ChildSpec, Policy

INTERVAL = 0.4
# Beats come faster than the interval but more than half of it apart: each is answered,
# and the fallback (1.5 intervals without a beat) has no reason to fire.
BEAT_EVERY = 0.3
BEATS = 8


def _heartbeats(pull: zmq.Socket[bytes], wait_ms: int) -> int:
    """Heartbeats received until none comes for ``wait_ms``."""
    count = 0
    while pull.poll(wait_ms):
        if isinstance(REPORT_CODEC.decode(pull.recv()), Heartbeat):
            count += 1
    return count


def _steady_actor(base: Path, name: str, **info: Any) -> tuple[Any, Any, Any, Any, Path]:
    """A run directory, the supervisor's sockets (ctx, pull, pub) and an rt_actors
    Steady actor process (not started) that heartbeats every INTERVAL and counts the
    supervisor as gone after three; and the directory of its evidence."""
    run_dir = endpoints.RunDir.create(base)
    evidence = base / "evidence"
    evidence.mkdir()
    ctx, pull, pub = supervisor_sockets(run_dir)
    runtime = RuntimeInfo(
        name=name,
        kind="strategy",
        run_dir=str(run_dir.path),
        heartbeat_interval=INTERVAL,
        supervisor_timeout=3 * INTERVAL,
        **info,
    )
    proc = multiprocess.get_context("spawn").Process(
        target=child_main, args=(Launch(runtime, "rt_actors:Steady", (str(evidence),)),)
    )
    return ctx, pull, pub, proc, evidence


def test_heartbeats_answer_the_beat_then_fall_back_to_the_timer_then_the_actor_leaves(
    base: Path,
) -> None:
    ctx, pull, pub, proc, evidence = _steady_actor(base, "beaten")
    beat = [
        endpoints.beat_topic(INTERVAL),
        COMMAND_CODEC.encode(Heartbeat(actor="supervisor", pid=0)),
    ]
    try:
        proc.start()
        assert pull.poll(60_000), "no Ready from the actor"
        assert isinstance(REPORT_CODEC.decode(pull.recv()), Ready)
        _heartbeats(pull, 200)  # the one sent with Ready
        while not _heartbeats(pull, 0):  # beat until answered: the subscription is through
            pub.send_multipart(beat)
            time.sleep(BEAT_EVERY)

        answered = 0
        for _ in range(BEATS):
            pub.send_multipart(beat)
            time.sleep(BEAT_EVERY)
            answered += _heartbeats(pull, 0)
        # A timer of the actor's own would have sent BEATS * BEAT_EVERY / INTERVAL (6).
        assert answered >= BEATS - 1
        assert answered <= BEATS  # and nothing between the beats

        # The beat stops (a wedged supervisor): the fallback timer keeps heartbeating
        # until supervisor_timeout has passed, then the actor leaves without side effects.
        fallback, deadline = 0, time.monotonic() + 60
        while (proc.is_alive() or pull.poll(0)) and time.monotonic() < deadline:
            fallback += _heartbeats(pull, 100)
        proc.join(10)

        assert fallback >= 1
        assert proc.exitcode == 0
        assert (evidence / "events.log").read_text().splitlines() == ["start beaten"]
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join(10)
        ctx.destroy(linger=0)


def test_an_actor_answers_the_beat_of_its_own_phase_only(base: Path) -> None:
    """A large fleet's actors heartbeat in groups, each on the beat of its phase: the
    actor answers its phase's beat, and another phase's beats are not the supervisor's
    pulse for it (heard alone, the actor counts the supervisor as silent and leaves)."""
    ctx, pull, pub, proc, _ = _steady_actor(base, "phased", beat_phase=2)
    pulse = COMMAND_CODEC.encode(Heartbeat(actor="supervisor", pid=0))
    try:
        proc.start()
        assert pull.poll(60_000), "no Ready from the actor"
        assert isinstance(REPORT_CODEC.decode(pull.recv()), Ready)
        _heartbeats(pull, 200)
        deadline = time.monotonic() + 30
        while not _heartbeats(pull, 0):  # its own phase's beat is answered
            assert time.monotonic() < deadline, "the beat of its phase went unanswered"
            pub.send_multipart([endpoints.beat_topic(INTERVAL, 2), pulse])
            time.sleep(BEAT_EVERY)
        others = time.monotonic() + 20
        while proc.is_alive() and time.monotonic() < others:
            for phase in (0, 1, 3):
                pub.send_multipart([endpoints.beat_topic(INTERVAL, phase), pulse])
            _heartbeats(pull, 0)
            time.sleep(BEAT_EVERY)
        proc.join(10)
        assert proc.exitcode == 0, "the actor took another phase's beat for its own"
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join(10)
        ctx.destroy(linger=0)


def test_the_supervisor_beats_once_per_distinct_heartbeat_interval() -> None:
    def child(name: str, interval: float, timeout: float = 10.0) -> ChildSpec:
        policy = Policy(heartbeat_interval=interval, supervisor_timeout=timeout)
        return ChildSpec(name=name, kind="strategy", target="m:f", policy=policy)

    periods = BeatPlan.of(
        [
            child("a", 1.0),
            child("b", 1),
            child("c", 0.2),
            # A beat at least every supervisor_timeout / 4, even if that is more often
            # than the interval.
            child("d", 5.0, timeout=8.0),
        ]
    ).periods

    assert periods == {
        endpoints.beat_topic(1.0): 1.0,
        endpoints.beat_topic(0.2): 0.2,
        endpoints.beat_topic(5.0): 2.0,
    }


def test_a_beat_sent_late_says_how_late() -> None:
    """The supervisor's loop was busy (a thousand exits to reap): actors heartbeat when
    they hear a beat, so it excuses them for the beats that went out late."""
    sent: list[bytes] = []

    class Pub:
        def send_multipart(self, frames: list[bytes], flags: int = 0) -> None:
            sent.append(frames[0])

    sup = object.__new__(Supervisor)
    sup.beats = {b"t1": 1.0, b"t5": 5.0}
    now = time.monotonic()

    beaten = {b"t1", b"t5"}
    due = {b"t1": now - 2.5, b"t5": now + 3.0}
    late = sup._beat(Pub(), b"beat", due, beaten)  # type: ignore[arg-type]
    first = sup._beat(Pub(), b"beat", {b"t1": now - 2.0, b"t5": now - 2.0}, set())  # type: ignore[arg-type]

    assert 2.5 <= late < 3.5
    assert first == 0.0  # a topic's very first beat is never late
    assert sent == [b"t1", b"t1", b"t5"]
    # The next beat is due a period after it was due (the phases keep their spacing),
    # and at least half a period after a late one went out.
    assert now + 0.5 <= due[b"t1"] <= now + 0.6


def test_a_large_fleet_answers_the_beats_in_small_groups_spread_over_the_interval() -> None:
    policy = Policy(heartbeat_interval=5.0, supervisor_timeout=20.0)
    specs = [
        ChildSpec(name=f"grid-{n:04d}", kind="strategy", target="m:f", policy=policy)
        for n in range(1000)
    ]
    alone = ChildSpec(name="execution", kind="execution", target="m:f")

    plan = BeatPlan.of([*specs, alone])

    phases = 1000 // BEAT_GROUP
    assert plan.phases == {5.0: phases, 1.0: 1}
    assert plan.periods == {
        **{endpoints.beat_topic(5.0, k): 5.0 for k in range(phases)},
        endpoints.beat_topic(1.0): 1.0,
    }
    # Evenly spaced over the interval, each phase heard by a group of about BEAT_GROUP.
    assert sorted(plan.offsets[endpoints.beat_topic(5.0, k)] for k in range(phases)) == [
        5.0 * k / phases for k in range(phases)
    ]
    groups = Counter(plan.phase(s) for s in specs)
    assert set(groups) == set(range(phases))
    assert max(groups.values()) <= 2 * BEAT_GROUP
    assert plan.phase(alone) == 0


def test_beat_topics_reach_no_other_subscriber() -> None:
    topics = [
        endpoints.beat_topic(0.2),
        endpoints.beat_topic(0.25),
        endpoints.beat_topic(2.0),
        endpoints.BROADCAST_TOPIC,
        endpoints.command_topic("beat"),
    ]

    for topic in topics:
        # ZeroMQ delivers a message to a subscription that is a prefix of its topic.
        assert [t for t in topics if topic.startswith(t)] == [topic]


def test_a_socket_that_sends_while_its_reader_waits_never_misses_a_frame(base: Path) -> None:
    """A DEALER sends requests while its own receive loop waits for the replies: a send
    may consume the descriptor's edge of replies that arrived meanwhile."""
    frames = 20_000

    async def scenario() -> int:
        ctx = zmq.asyncio.Context()
        router, dealer = rpc_pair(ctx, base)
        got = 0

        async def echo() -> None:
            while True:
                await router.wait_readable()
                while True:
                    try:
                        request = router.sync_sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    router.sync_sock.send_multipart(request)
                    router.after_send()

        async def replies() -> None:
            nonlocal got
            while got < frames:
                await dealer.wait_readable()
                while True:
                    try:
                        dealer.sync_sock.recv(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    got += 1

        tasks = [
            asyncio.ensure_future(echo()),
            asyncio.ensure_future(send_requests(dealer, frames, lambda: got)),
        ]
        try:
            # A missed wake-up would wait forever; the bound only turns that into a failure.
            await asyncio.wait_for(replies(), 60)
        except TimeoutError:
            pytest.fail(missing_replies(dealer, got, frames))
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            router.close(0)
            dealer.close(0)
            ctx.term()
        return got

    assert asyncio.run(scenario()) == frames


def test_the_beats_cover_the_children_a_cluster_member_may_be_given_later() -> None:
    """A cluster member starts with its infrastructure actors only and is given grids
    later; above 200 grids their heartbeat interval is not the infrastructure's, and
    without a beat of their own they would count the supervisor as gone."""
    from gridsup import app

    infra = [ChildSpec(name="persistence", kind="persistence", target="m:f")]
    policy = app.fleet_policy(app.CLUSTER_STRATEGY_POLICY, 1000)
    grids = [
        ChildSpec(name=f"grid-{n}", kind="strategy", target="m:f", policy=policy)
        for n in range(1000)
    ]

    alone = Supervisor(infra, planned=())
    member = Supervisor(infra, planned=grids)

    assert endpoints.beat_topic(policy.heartbeat_interval) not in alone.beats
    heard = {
        endpoints.beat_topic(policy.heartbeat_interval, member.beat_plan.phase(g)) for g in grids
    }
    assert heard <= set(member.beats)
    assert endpoints.beat_topic(1.0) in member.beats  # and the infrastructure's, as before
