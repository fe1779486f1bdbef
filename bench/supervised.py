"""What the benches that run a real supervisor in their own process share: its start,
whether its grids are trading, the map of its process tree by kind, and the way down."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import psutil


class Publisher(Protocol):
    """A bench's market publisher (its ticks stand in for the market-data actor)."""

    def close(self) -> None: ...


async def start_supervisor(
    specs: list[Any], base: Path, run_dir: str, log_level: str = "WARNING"
) -> tuple[Any, asyncio.Task[Any], str]:
    """A ``Supervisor`` of ``specs`` running in a task of this loop (its forkserver
    preloaded as ``gridsup start``'s), once its run directory ``run_dir`` exists; and the
    endpoint of the market channel, where the bench's publisher binds."""
    from gridsup.actors.run_config import MARKET
    from gridsup.commands.foreground import strategy_preload
    from gridsup.runtime.endpoints import RunDir
    from gridsup.supervisor.runner import Supervisor

    sup = Supervisor(specs, base=base, preload=strategy_preload(), log_level=log_level)
    task = asyncio.get_running_loop().create_task(sup.run())
    while not Path(run_dir).is_dir():
        await asyncio.sleep(0.01)
    return sup, task, RunDir(Path(run_dir)).endpoint(MARKET)


def trading(children: Mapping[str, Any], names: Iterable[str]) -> bool:
    """Every grid of ``names`` runs with orders out and no request pending (heartbeat
    status)."""
    from gridsup.supervisor.states import ChildState

    return all(
        children[n].state is ChildState.RUNNING
        and children[n].status.get("requests_pending") == 0
        and (children[n].status.get("open_orders") or 0) > 0
        for n in names
    )


def process_kinds(
    me: psutil.Process, tree: list[psutil.Process], children: Mapping[str, Any]
) -> dict[int, str]:
    """pid -> kind of every process of the tree: the actors by their spec's kind, this
    process (the supervisor and the bench's market publisher) "supervisor", the rest
    (the forkserver, the resource tracker) "other"."""
    kinds = {p.pid: "other" for p in tree}
    kinds.update({c.pid: c.spec.kind for c in children.values() if c.pid is not None})
    kinds[me.pid] = "supervisor"
    return kinds


async def shut_down(
    sup: Any, task: asyncio.Task[Any], ticker: asyncio.Task[Any], market: Publisher
) -> None:
    """Stop the ticks, then the supervisor (waiting for its run to end), then close the
    publisher."""
    ticker.cancel()
    if sup.supervision is not None:
        sup.supervision.stop()
    await task
    market.close()
