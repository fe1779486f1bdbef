"""Strategy state: the ``StateStore`` Protocol and ``DatabaseStateStore``.

A state is the JSON-able dict a strategy's ``get_state()`` returns, carrying its schema
``version``. Loading migrates older versions step by step to the current one, so a
strategy only ever sees the shape it was written for. Saving is one
``INSERT ... ON CONFLICT DO UPDATE`` statement: a row is either the old state or the new
one, never half of each.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import msgspec
import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from gridsup.store.database import Database
from gridsup.store.errors import StateFenced, StateVersionError
from gridsup.store.models import StrategyState, utcnow
from gridsup.store.sql import Where, cached_statement, execute_core, insert_for

log = structlog.get_logger(__name__)

_TABLE = StrategyState.__table__
_ENCODER = msgspec.json.Encoder()

# One step: the state at version N -> the state at version N + 1.
StateMigration = Callable[[dict[str, Any]], dict[str, Any]]


@runtime_checkable
class StateStore(Protocol):
    """Where strategies keep their state between runs."""

    async def save(self, strategy: str, state: Mapping[str, Any]) -> None:
        """Replace the saved state of ``strategy`` with ``state`` (atomically)."""
        ...

    async def load(self, strategy: str) -> dict[str, Any] | None:
        """The saved state migrated to the current version, None when there is none."""
        ...

    async def delete(self, strategy: str) -> bool:
        """Forget the state; False when there was none."""
        ...


class StateMigrations:
    """Steps from each old state version to the next, up to ``current``.

    Raises (on construction):
        ValueError: a step is missing between 1 and ``current``.
    """

    def __init__(self, current: int = 1, steps: Mapping[int, StateMigration] | None = None):
        self.current = current
        self.steps = dict(steps or {})
        missing = [v for v in range(1, current) if v not in self.steps]
        if missing:
            raise ValueError(f"no state migration from version(s) {missing} to the next")

    def migrate(self, strategy: str, version: int, state: dict[str, Any]) -> dict[str, Any]:
        """``state`` (saved at ``version``) brought to ``current``.

        Raises:
            StateVersionError: the state is newer than this code, or a step failed.
        """
        if version > self.current:
            raise StateVersionError(
                f"state of {strategy!r} is version {version}, newer than this gridsup "
                f"understands ({self.current}): upgrade gridsup"
            )
        while version < self.current:
            try:
                state = self.steps[version](dict(state))
            except Exception as exc:
                raise StateVersionError(
                    f"migrating the state of {strategy!r} from version {version} failed: {exc!r}"
                ) from exc
            version += 1
            state["version"] = version
            log.info("strategy_state_migrated", strategy=strategy, version=version)
        return state


def state_row(strategy: str, state: Mapping[str, Any], epoch: int = 0) -> dict[str, Any]:
    """The row for ``state``; encodes first so a bad state fails before any SQL.

    Raises:
        TypeError: the state is not JSON-able (msgspec's message names the value).
        ValueError: its ``version`` is not a positive integer.
    """
    version = state.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"state of {strategy!r}: version must be a positive int, got {version!r}")
    now = utcnow()
    return {
        "strategy": strategy,
        "version": version,
        "revision": 1,
        "epoch": epoch,
        "state": _ENCODER.encode(dict(state)).decode(),
        "created_at": now,
        "updated_at": now,
    }


async def upsert_states(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert or replace states, each in one statement (revision += 1 on replace).

    A row whose ``epoch`` is below the stored one is not written (a fenced, dead
    incarnation's late save) and the whole call fails, so that its transaction stores
    nothing and the caller can refuse that save alone.

    Raises:
        StateFenced: a row's epoch is below the stored state's epoch.
    """
    if not rows:
        return
    result = await execute_core(session, states_upsert_statement(session), rows)
    refuse_fenced(rows, {row[0] for row in result.all()})


def states_upsert_statement(where: Where) -> Any:
    """Insert or replace states (revision += 1 on replace; not below the stored epoch),
    returning the strategies written."""
    return cached_statement(where, "strategy_states.upsert", lambda: _upsert(where))


def refuse_fenced(rows: list[dict[str, Any]], written: set[str]) -> None:
    """Raises:
    StateFenced: a row of ``rows`` is not among the strategies ``written``.
    """
    fenced = [row["strategy"] for row in rows if row["strategy"] not in written]
    if fenced:
        raise StateFenced(
            f"state save refused for {', '.join(sorted(fenced))}: a newer incarnation "
            "(higher epoch) owns it"
        )


def _upsert(where: Where) -> Any:
    stmt = insert_for(where, _TABLE)
    excluded = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=["strategy"],
        set_={
            "version": excluded.version,
            "state": excluded.state,
            "revision": StrategyState.revision + 1,
            "epoch": excluded.epoch,
            "updated_at": excluded.updated_at,
        },
        where=StrategyState.epoch <= excluded.epoch,
    ).returning(StrategyState.strategy)


class DatabaseStateStore:
    """``StateStore`` on the store's database."""

    def __init__(self, db: Database, migrations: StateMigrations | None = None) -> None:
        self.db = db
        self.migrations = migrations or StateMigrations()

    async def save(self, strategy: str, state: Mapping[str, Any]) -> None:
        """Raises:
        TypeError/ValueError: the state is not JSON-able or has a bad version.
        DatabaseUnavailable: the database is away.
        """
        row = state_row(strategy, state)
        async with self.db.session() as session:
            await upsert_states(session, [row])

    async def load(self, strategy: str) -> dict[str, Any] | None:
        """Raises:
        StateVersionError: the saved state cannot be brought to the current version.
        """
        loaded = await self.load_with_epoch(strategy)
        return None if loaded is None else loaded[0]

    async def load_with_epoch(self, strategy: str) -> tuple[dict[str, Any], int] | None:
        """The saved state (migrated) and the fencing epoch it was written or claimed at.

        Raises:
            StateVersionError: the saved state cannot be brought to the current version.
        """
        async with self.db.session() as session:
            saved = await session.get(StrategyState, strategy)
        if saved is None:
            return None
        state = msgspec.json.decode(saved.state)
        assert isinstance(state, dict)
        return self.migrations.migrate(strategy, saved.version, state), saved.epoch

    async def revision(self, strategy: str) -> int | None:
        """How many times the state was replaced (None when there is none)."""
        async with self.db.session() as session:
            stmt = select(StrategyState.revision).where(StrategyState.strategy == strategy)
            return (await session.execute(stmt)).scalar_one_or_none()

    async def delete(self, strategy: str) -> bool:
        async with self.db.session() as session:
            result = await session.execute(
                delete(StrategyState).where(StrategyState.strategy == strategy)
            )
            return bool(getattr(result, "rowcount", 0))
