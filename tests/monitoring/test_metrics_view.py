"""The metrics endpoint needs nothing of the supervisor beyond its SupervisorView (the
Protocol extensions are started with): a hand-written view stands in for the runner's
Supervisor, and the endpoint serves what the view says, over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from gridsup.messages.alerts import AlertRaised
from gridsup.supervisor.extensions import SupervisorView
from gridsup.supervisor.metrics.server import MetricsServer, supervisor_snapshot


@dataclass
class FakeView:
    """A supervisor before its run has begun: no supervision, no sockets."""

    specs: tuple[Any, ...] = ()
    supervision: None = None
    grid_actions: None = None
    alert_listeners: list[Callable[[AlertRaised], None]] = field(default_factory=list)
    started_at: float | None = None
    frames_dropped: int = 0
    run_dir: None = None
    ctx: None = None


def test_a_supervisor_not_yet_running_is_starting_with_no_actors() -> None:
    view: SupervisorView = FakeView(frames_dropped=3)

    snapshot = supervisor_snapshot(view)

    assert (snapshot.state, snapshot.uptime, snapshot.actors, snapshot.frames_dropped) == (
        "starting",
        0.0,
        (),
        3,
    )


def test_the_uptime_counts_from_the_views_start() -> None:
    view = FakeView(started_at=time.monotonic() - 5.0)

    snapshot = supervisor_snapshot(view)

    assert 5.0 <= snapshot.uptime < 65.0


async def test_the_endpoint_serves_what_the_view_says() -> None:
    server = MetricsServer("127.0.0.1", 0, "paper")
    await server.start(FakeView(frames_dropped=7))
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
            http.get(f"http://127.0.0.1:{server.port}/metrics") as response,
        ):
            assert response.status == 200
            text = await response.text()
    finally:
        await server.stop()

    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("gridsup_supervisor_state", (("state", "starting"),))] == 1
    assert samples[("gridsup_supervisor_frames_dropped_total", ())] == 7
    assert not any(name.startswith("gridsup_actor_") for name, _ in samples)
