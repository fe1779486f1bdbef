"""``RetiredIdLog``: the client ids a paper account's bounded history has forgotten.

Append-only (``retired_client_ids``, one row per account and id): the paper account in
the execution actor keeps only the recent ones in memory (``exchange/paper/retired.py``)
and hands every newly retired id to the persistence actor in the transaction of the
snapshot that no longer holds its order. A placement under an id is refused when it is
here, however long ago the order ended. Besides the ids, each row keeps the slot and
cycle of one of our ids, so that the highest cycle retired per slot (the account's
*floors*, read once at start) tells which new ids need no look-up at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gridsup.exchange.paper.retired import slot_of
from gridsup.store.models import RetiredClientId, utcnow
from gridsup.store.sql import Where, execute_core, insert_ignoring

_TABLE = RetiredClientId.__table__
# Ids per statement: far under SQLite's bound on variables in one statement.
_CHUNK = 500


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def retired_rows(account: str, client_order_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The rows of ids retired by ``account`` (each once)."""
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for cid in dict.fromkeys(client_order_ids):
        slot = slot_of(cid)
        rows.append(
            {
                "account": account,
                "client_order_id": cid,
                "slot": slot[0] if slot else None,
                "cycle": slot[1] if slot else None,
                "retired_at": now,
            }
        )
    return rows


def retired_insert(where: Where) -> Any:
    """The insert of retired ids (one stored before is left as it is)."""
    return insert_ignoring(where, "retired_client_ids.append", _TABLE, "account", "client_order_id")


class RetiredIdLog:
    """Append and look up retired client ids. Works inside the caller's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def append(self, account: str, client_order_ids: Sequence[str]) -> None:
        """Add ids retired by ``account``; one stored before is left as it is."""
        rows = retired_rows(account, client_order_ids)
        if rows:
            await execute_core(self.session, retired_insert(self.session), rows)

    async def find(self, account: str, client_order_ids: Sequence[str]) -> set[str]:
        """Those of ``client_order_ids`` that ``account`` retired."""
        found: set[str] = set()
        column = RetiredClientId.client_order_id
        for chunk in _chunks(list(dict.fromkeys(client_order_ids))):
            stmt = select(column).where(RetiredClientId.account == account, column.in_(chunk))
            found.update((await self.session.execute(stmt)).scalars())
        return found

    async def floors(self, account: str) -> dict[str, int]:
        """The highest cycle ``account`` retired in each slot of ours (one pass over the
        account's rows of the (account, slot, cycle) index, at start)."""
        stmt = (
            select(RetiredClientId.slot, func.max(RetiredClientId.cycle))
            .where(RetiredClientId.account == account, RetiredClientId.slot.is_not(None))
            .group_by(RetiredClientId.slot)
        )
        rows = (await self.session.execute(stmt)).all()
        return {slot: int(cycle) for slot, cycle in rows if slot is not None and cycle is not None}

    async def count(self, account: str) -> int:
        """How many ids ``account`` retired (status, benches, tests)."""
        stmt = select(func.count()).select_from(_TABLE).where(_TABLE.c.account == account)
        return int((await self.session.execute(stmt)).scalar_one())
