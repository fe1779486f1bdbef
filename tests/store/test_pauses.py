"""Grid pauses in the database, on SQLite and PostgreSQL: the store's rows, and the
supervisor's side (GridActions with the GridPauses journal) across a supervisor restart:
a pause written by one supervisor is loaded by the next, a resume erases it, and a pause
that cannot be written fails the action with nothing sent."""

from __future__ import annotations

from types import SimpleNamespace

from gridsup.messages.control import (
    GridAction,
    GridActionKind,
    GridActionOutcome,
    Pause,
    Resume,
)
from gridsup.store import pauses
from gridsup.store.database import Database
from gridsup.store.models import GridPause
from gridsup.supervisor.grid_actions import GridActions
from gridsup.supervisor.pauses import GridPauses
from gridsup.supervisor.spec import ChildSpec
from gridsup.supervisor.states import ChildState
from gridsup.supervisor.supervision import Supervision
from supervisor_fakes import FakeEffects

GRID_IDS = {"alpha": "alpha-id", "beta": "beta-id"}


async def test_a_pause_is_one_row_until_resumed(db: Database) -> None:
    async with db.session() as s:
        assert await pauses.pause(s, "alpha", "cli", "by cli") is True
    async with db.session() as s:
        assert await pauses.pause(s, "alpha", "token:x") is False  # the first row stays
        assert await pauses.is_paused(s, "alpha") and not await pauses.is_paused(s, "beta")
        [row] = await pauses.paused_grids(s)
    assert (row.grid, row.paused_by, row.reason) == ("alpha", "cli", "by cli")
    assert row.paused_at.tzinfo is not None

    async with db.session() as s:
        assert await pauses.resume(s, "alpha") is True
    async with db.session() as s:
        assert await pauses.resume(s, "alpha") is False
        assert await pauses.paused_grids(s) == []


def running_grids() -> Supervision:
    specs = [
        ChildSpec(name=f"grid-{g}", kind="strategy", target="m:f", kwargs={"grid_name": g})
        for g in GRID_IDS
    ]
    sup = Supervision(specs, FakeEffects())
    sup.start()
    for child in sup.children.values():
        assert child.state is ChildState.STARTING and child.pid is not None
        sup.on_ready(child.name, child.pid)
    return sup


async def supervisor_with_pauses(
    db: Database,
) -> tuple[GridActions, GridPauses, list[tuple[str, Pause | Resume]]]:
    """A supervisor's grid actions with the pauses extension started on ``db``."""
    sent: list[tuple[str, Pause | Resume]] = []
    actions = GridActions(running_grids(), lambda actor, cmd: sent.append((actor, cmd)))
    url = db.url.render_as_string(hide_password=False)
    extension = GridPauses(url, GRID_IDS, schema=db.schema)
    await extension.start(SimpleNamespace(grid_actions=actions))  # type: ignore[arg-type]
    return actions, extension, sent


async def test_a_pause_outlives_the_supervisor_and_a_resume_ends_it(db: Database) -> None:
    first, extension, sent = await supervisor_with_pauses(db)
    assert first.paused == set()
    reply = await first.act(GridAction(action=GridActionKind.PAUSE, grid="alpha", by="cli"))
    assert reply.outcome is GridActionOutcome.DONE and [a for a, _ in sent] == ["grid-alpha"]
    async with db.session() as s:
        assert [r.grid for r in await pauses.paused_grids(s)] == ["alpha-id"]  # by grid id
    await extension.stop()

    # The next supervisor: the pause is loaded, the grid shows paused, resume is allowed.
    second, extension, sent = await supervisor_with_pauses(db)
    try:
        assert second.paused == {"alpha"}
        again = await second.act(GridAction(action=GridActionKind.PAUSE, grid="alpha"))
        assert again.outcome is GridActionOutcome.REFUSED and again.state == "paused"
        second.on_ready("grid-alpha")  # its restarted actor: paused again once Ready
        assert [(a, type(c)) for a, c in sent] == [("grid-alpha", Pause)]
        resumed = await second.act(GridAction(action=GridActionKind.RESUME, grid="alpha"))
        assert resumed.outcome is GridActionOutcome.DONE and second.paused == set()
        async with db.session() as s:
            assert await pauses.paused_grids(s) == []
    finally:
        await extension.stop()


async def test_a_pause_that_cannot_be_saved_fails_and_changes_nothing(db: Database) -> None:
    actions, extension, sent = await supervisor_with_pauses(db)
    async with db.engine.begin() as conn:  # the table goes: every write fails
        await conn.run_sync(lambda c: GridPause.__table__.drop(c))
    try:
        reply = await actions.act(GridAction(action=GridActionKind.PAUSE, grid="beta"))
    finally:
        await extension.stop()

    assert reply.outcome is GridActionOutcome.FAILED and "pause not saved" in reply.detail
    assert sent == [] and actions.paused == set()
