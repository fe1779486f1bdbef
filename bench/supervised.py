"""What the benches that run a real supervisor in their own process share: whether its
grids are trading, the map of its process tree by kind, and the way down."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import psutil


class Publisher(Protocol):
    """A bench's market publisher (its ticks stand in for the market-data actor)."""

    def close(self) -> None: ...


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
