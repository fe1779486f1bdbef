"""retired_client_ids: appended through the writer (in the transaction of the snapshot
that forgot them), idempotent, looked up by id, and the highest cycle per slot."""

from __future__ import annotations

from gridsup.messages.common import Side
from gridsup.store.database import Database
from gridsup.store.records import RetiredIdsRecord, StoreWrite
from gridsup.store.retired_ids import RetiredIdLog
from gridsup.store.writer import StoreWriter
from gridsup.strategy.ids import make_client_order_id

ACCOUNT = "__paper_account__"


def ids(level: int, cycles: range, side: Side = Side.BUY, grid: str = "alpha") -> list[str]:
    return [make_client_order_id(grid, level, side, c) for c in cycles]


async def test_retired_ids_are_stored_once_and_found_by_id_and_slot(db: Database) -> None:
    first = [*ids(3, range(1, 601)), "foreign-1"]  # more than one lookup chunk
    again = ids(3, range(590, 611)) + ids(4, range(1, 3), Side.SELL)
    writer = StoreWriter(db)
    requests: list[list[StoreWrite]] = [
        [RetiredIdsRecord(account=ACCOUNT, client_order_ids=tuple(first))],
        [RetiredIdsRecord(account=ACCOUNT, client_order_ids=tuple(again))],
    ]

    assert await writer.write_requests(requests) == [True, True]
    await writer.write_requests(requests[:1])  # a re-send stores nothing twice
    await writer.write_batch([RetiredIdsRecord(account="other", client_order_ids=("x",))])

    async with db.session() as session:
        log = RetiredIdLog(session)
        count = await log.count(ACCOUNT)
        asked = [first[0], first[599], again[-1], "foreign-1", "never", "x"]
        found = await log.find(ACCOUNT, asked + ids(3, range(1, 601)))
        floors = await log.floors(ACCOUNT)
    assert count == 600 + 1 + 10 + 2
    assert found == set(ids(3, range(1, 601))) | {again[-1], "foreign-1"}
    assert floors == {first[0][:14]: 610, again[-1][:14]: 2}
