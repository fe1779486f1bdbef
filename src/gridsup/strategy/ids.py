"""Deterministic client order ids (design invariant 2).

Layout, letters and digits only, at most 32 characters::

    gs  3f9a0c1e  b  007  42
    |   |         |  |    `- cycle: decimal, 1..18 digits (the slot's order sequence number)
    |   |         |  `------ level: three decimal digits, 000..199; 999 = a market order
    |   |         `--------- side: ``b`` buy, ``s`` sell
    |   `------------------- grid tag: first 8 hex digits of blake2b(grid id)
    `----------------------- fixed prefix ``gs`` (gridsup)

The grid tag is a hash of the grid's id (its name in grids.toml), so two grids get
different tags without any registry: with 32 bits, a collision among 100 grids on one
account has a probability of about 1e-6, and ``gridsup`` refuses to start two grids whose
tags collide (see :func:`grid_tag`). Every field has a fixed width except the cycle at the
end, so an id parses back without separators; anything that does not match exactly is
foreign and parses to ``None`` (and is never touched).
"""

from __future__ import annotations

import hashlib
from typing import Final

import msgspec

from gridsup.messages.common import Side

PREFIX: Final = "gs"
TAG_LENGTH: Final = 8
MAX_LENGTH: Final = 32
MAX_LEVEL: Final = 999
# Market orders (the initial position buy, the stop/take-profit exit sell) sit on no level.
MARKET_LEVEL: Final = 999
_MAX_CYCLE_DIGITS: Final = MAX_LENGTH - len(PREFIX) - TAG_LENGTH - 1 - 3
MAX_CYCLE: Final = 10**_MAX_CYCLE_DIGITS - 1

_SIDE_CODE: Final = {Side.BUY: "b", Side.SELL: "s"}
_CODE_SIDE: Final = {"b": Side.BUY, "s": Side.SELL}
_HEX: Final = frozenset("0123456789abcdef")


class ClientOrderId(msgspec.Struct, frozen=True):
    """A parsed client order id: which grid (by tag), level, side and cycle."""

    grid_tag: str
    level: int
    side: Side
    cycle: int

    def belongs_to(self, grid_id: str) -> bool:
        """True when this id was made for ``grid_id``."""
        return self.grid_tag == grid_tag(grid_id)

    @property
    def is_market(self) -> bool:
        return self.level == MARKET_LEVEL


def grid_tag(grid_id: str) -> str:
    """The 8 hex digit tag that names ``grid_id`` inside its order ids.

    Raises:
        ValueError: ``grid_id`` is empty.
    """
    if not grid_id:
        raise ValueError("grid id must not be empty")
    return hashlib.blake2b(grid_id.encode(), digest_size=TAG_LENGTH // 2).hexdigest()


def make_client_order_id(grid_id: str, level: int, side: Side, cycle: int) -> str:
    """The client order id of ``grid_id``'s order at ``level``/``side`` in ``cycle``.

    Raises:
        ValueError: ``level`` is outside 0..999 or ``cycle`` outside 0..MAX_CYCLE.
    """
    return make_client_order_id_for_tag(grid_tag(grid_id), level, side, cycle)


def make_client_order_id_for_tag(tag: str, level: int, side: Side, cycle: int) -> str:
    """Like :func:`make_client_order_id` with a precomputed :func:`grid_tag` (hot path).

    Raises:
        ValueError: ``level`` is outside 0..999 or ``cycle`` outside 0..MAX_CYCLE.
    """
    if not 0 <= level <= MAX_LEVEL:
        raise ValueError(f"level {level} outside 0..{MAX_LEVEL}")
    if not 0 <= cycle <= MAX_CYCLE:
        raise ValueError(f"cycle {cycle} outside 0..{MAX_CYCLE}")
    return f"{PREFIX}{tag}{_SIDE_CODE[side]}{level:03d}{cycle}"


def parse_client_order_id(client_order_id: str | None) -> ClientOrderId | None:
    """Parse one of our ids back; any other string (a foreign order) gives ``None``."""
    if not client_order_id or not client_order_id.startswith(PREFIX):
        return None
    cid = client_order_id
    if len(cid) > MAX_LENGTH:
        return None
    tag_end = len(PREFIX) + TAG_LENGTH
    tag = cid[len(PREFIX) : tag_end]
    side = _CODE_SIDE.get(cid[tag_end : tag_end + 1])
    level_text = cid[tag_end + 1 : tag_end + 4]
    cycle_text = cid[tag_end + 4 :]
    if (
        len(tag) != TAG_LENGTH
        or not _HEX.issuperset(tag)
        or side is None
        or len(level_text) != 3
        or not (level_text.isascii() and level_text.isdigit())
        or not cycle_text
        or not (cycle_text.isascii() and cycle_text.isdigit())
        # a canonical id never pads its cycle, so "007" is not ours
        or (len(cycle_text) > 1 and cycle_text[0] == "0")
    ):
        return None
    return ClientOrderId(grid_tag=tag, level=int(level_text), side=side, cycle=int(cycle_text))
