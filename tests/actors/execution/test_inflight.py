"""InFlight: while a placement or cancel of a client id is under way, the id reads as
in flight and whoever waits for it resumes only when it ends — however it ends; a
waiter that gives up does not cancel the work it waited for."""

from __future__ import annotations

import asyncio

import pytest

from gridsup.actors.execution.inflight import InFlight


async def test_an_id_is_in_flight_for_the_block_that_holds_it_only() -> None:
    inflight = InFlight()

    with inflight.holding("c1"):
        inside = ("c1" in inflight, "c2" in inflight, len(inflight))

    assert inside == (True, False, 1)
    assert "c1" not in inflight and len(inflight) == 0


async def test_a_waiter_resumes_when_the_work_ends_not_before() -> None:
    inflight = InFlight()
    release = asyncio.Event()
    seen: list[str] = []

    async def work() -> None:
        with inflight.holding("c1"):
            await release.wait()
            seen.append("booked")

    async def waiter() -> None:
        await inflight.settled("c1")
        seen.append("resumed")

    holder = asyncio.create_task(work())
    await asyncio.sleep(0)
    waiting = asyncio.create_task(waiter())
    await asyncio.sleep(0.01)
    assert seen == [] and not waiting.done()

    release.set()
    await asyncio.wait_for(asyncio.gather(holder, waiting), timeout=5)

    assert seen == ["booked", "resumed"]


async def test_work_that_fails_still_releases_its_waiters() -> None:
    inflight = InFlight()
    started = asyncio.Event()

    async def work() -> None:
        with inflight.holding("c1"):
            started.set()
            await asyncio.sleep(0.01)
            raise RuntimeError("refused")

    holder = asyncio.create_task(work())
    await started.wait()
    await asyncio.wait_for(inflight.settled("c1"), timeout=5)

    with pytest.raises(RuntimeError):
        await holder
    assert "c1" not in inflight


async def test_a_waiter_that_gives_up_leaves_the_work_running() -> None:
    inflight = InFlight()
    release = asyncio.Event()

    async def work() -> str:
        with inflight.holding("c1"):
            await release.wait()
        return "done"

    holder = asyncio.create_task(work())
    await asyncio.sleep(0)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(inflight.settled("c1"), timeout=0.01)

    assert "c1" in inflight and not holder.done()
    release.set()
    assert await asyncio.wait_for(holder, timeout=5) == "done"


async def test_nothing_in_flight_settles_at_once() -> None:
    await asyncio.wait_for(InFlight().settled("c1"), timeout=1)
