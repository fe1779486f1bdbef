"""Strategy state: save/load/delete, versions migrated on load, saves never half-written."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from gridsup.store.database import Database
from gridsup.store.errors import StateVersionError
from gridsup.store.state import DatabaseStateStore, StateMigrations, StateStore


def v1_to_v2(state: dict[str, Any]) -> dict[str, Any]:
    state["levels"] = state.pop("grid")
    return state


def v2_to_v3(state: dict[str, Any]) -> dict[str, Any]:
    state["cycles"] = 0
    return state


MIGRATIONS = StateMigrations(current=3, steps={1: v1_to_v2, 2: v2_to_v3})


async def test_save_load_delete(db: Database) -> None:
    store = DatabaseStateStore(db, MIGRATIONS)
    assert isinstance(store, StateStore)
    assert await store.load("g1") is None
    await store.save("g1", {"version": 3, "levels": ["1.5"], "cycles": 2, "fee": Decimal("0.1")})
    await store.save("g1", {"version": 3, "levels": ["2.5"], "cycles": 3})
    assert await store.load("g1") == {"version": 3, "levels": ["2.5"], "cycles": 3}
    assert await store.revision("g1") == 2
    assert await store.delete("g1") is True
    assert await store.delete("g1") is False
    assert await store.load("g1") is None


async def test_older_versions_are_migrated_on_load(db: Database) -> None:
    await DatabaseStateStore(db).save("g1", {"version": 1, "grid": [1, 2]})
    loaded = await DatabaseStateStore(db, MIGRATIONS).load("g1")
    assert loaded == {"version": 3, "levels": [1, 2], "cycles": 0}


async def test_a_state_newer_than_the_code_is_refused(db: Database) -> None:
    await DatabaseStateStore(db).save("g1", {"version": 4})
    with pytest.raises(StateVersionError, match="newer"):
        await DatabaseStateStore(db, MIGRATIONS).load("g1")


def test_a_gap_in_the_migration_steps_is_refused() -> None:
    with pytest.raises(ValueError, match="version"):
        StateMigrations(current=3, steps={1: v1_to_v2})


@pytest.mark.parametrize("bad", [{"version": 1, "x": object()}, {"version": "2"}, {"version": 0}])
async def test_a_bad_save_leaves_the_previous_state_whole(
    db: Database, bad: dict[str, Any]
) -> None:
    store = DatabaseStateStore(db)
    await store.save("g1", {"version": 1, "orders": {"a": "1"}})
    with pytest.raises((TypeError, ValueError)):
        await store.save("g1", bad)
    assert await store.load("g1") == {"version": 1, "orders": {"a": "1"}}
    assert await store.revision("g1") == 1
