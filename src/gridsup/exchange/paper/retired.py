"""The client ids a paper account has forgotten, and how few of them it keeps in memory.

A finished order that the bounded history (``max_history``) forgets leaves its client id
behind: a placement re-sent under it must still be refused as a duplicate, or the order
would be placed twice. :class:`RetiredIds` holds those ids in two ways:

* **Alone** (the backtest, the loopback exchange, tests): nobody takes the ids, so every
  retired id stays here, in memory and in every snapshot (``unsaved``), as before.
* **With a store** (the execution actor in dry-run): at each save the owner takes the ids
  retired since the last one (:meth:`RetiredIds.take`) and appends them to the store
  (the ``retired_client_ids`` table) in the same transaction as the snapshot, which still
  lists them, so the snapshot alone is never short of an id the store lacks. Taken ids
  stay in a bounded cache of the most recent ones (``recent``), and the store is the
  record of the others: the account holds memory bounded by ``recent_max`` and by the
  number of order slots, not by how long it has run.

Telling whether a new id must be looked up in the store, without a look-up per order:
our ids (``strategy.ids``) name a slot (grid tag, side, level) and count the slot's orders
(the cycle), so the account keeps, per slot, the highest cycle it knows retired (the
*floor*: from the store at start, then from every retirement). An id above its slot's
floor was never retired; only an id at or below it (a re-send of an old order) or a
foreign one needs the store (:meth:`RetiredIds.needs_lookup`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from gridsup.strategy.ids import parse_client_order_id

__all__ = ["RECENT_RETIRED", "RetiredIds", "slot_of"]

# Taken ids kept in memory (about 100 B each): a re-send of a recent order is refused
# without asking the store.
RECENT_RETIRED = 10_000
# The part of one of our ids that names its slot: "gs", the grid tag, side, level.
_SLOT_LENGTH = 2 + 8 + 1 + 3


def slot_of(client_order_id: str) -> tuple[str, int] | None:
    """(slot, cycle) of one of our client ids; None for a foreign id."""
    parsed = parse_client_order_id(client_order_id)
    if parsed is None:
        return None
    return client_order_id[:_SLOT_LENGTH], parsed.cycle


class RetiredIds:
    """Client ids of forgotten orders: the unsaved ones, a bounded cache of the recent
    ones, and the floor of every slot (see the module docstring)."""

    __slots__ = ("floors", "recent", "recent_max", "unsaved")

    def __init__(self, unsaved: Iterable[str] = (), recent_max: int = RECENT_RETIRED) -> None:
        # dicts as ordered sets: snapshots list the ids in the order they retired.
        self.unsaved: dict[str, None] = {}
        self.recent: dict[str, None] = {}
        self.recent_max = recent_max
        self.floors: dict[str, int] = {}  # slot -> highest cycle known retired
        for cid in unsaved:
            self.add(cid)

    def __contains__(self, client_order_id: str) -> bool:
        """Whether the id is known retired without asking the store."""
        return client_order_id in self.unsaved or client_order_id in self.recent

    def __len__(self) -> int:
        return len(self.unsaved) + len(self.recent)

    def __iter__(self) -> Iterator[str]:
        """The ids held in memory, oldest first (the recent taken ones, then the rest)."""
        yield from self.recent
        yield from self.unsaved

    def add(self, client_order_id: str) -> None:
        """Note that the order under ``client_order_id`` was forgotten."""
        self.unsaved[client_order_id] = None
        slot = slot_of(client_order_id)
        if slot is not None and slot[1] > self.floors.get(slot[0], -1):
            self.floors[slot[0]] = slot[1]

    def take(self) -> list[str]:
        """The ids retired since the last take, oldest first, for the store; they move
        to the cache of recent ids (its oldest leave it past ``recent_max``)."""
        taken = list(self.unsaved)
        self.unsaved.clear()
        recent = self.recent
        for cid in taken:
            recent[cid] = None
        excess = len(recent) - self.recent_max
        if excess > 0:
            for cid in list(recent)[:excess]:
                del recent[cid]
        return taken

    def learn_floors(self, floors: Mapping[str, int]) -> None:
        """Merge the highest retired cycle per slot that the store holds."""
        for slot, cycle in floors.items():
            if cycle > self.floors.get(slot, -1):
                self.floors[slot] = cycle

    def needs_lookup(self, client_order_id: str) -> bool:
        """Whether the id may have been retired beyond what is in memory: a foreign id,
        or one of ours at or below its slot's floor. Meaningful once the store's floors
        were learnt (:meth:`learn_floors`)."""
        if client_order_id in self:
            return False  # known retired: refused without asking
        slot = slot_of(client_order_id)
        return slot is None or slot[1] <= self.floors.get(slot[0], -1)
