"""Which cluster member runs which grid: rendezvous (highest-random-weight) hashing.

Every member computes the same answer from the same inputs (the live members, the
grids, the pins of ``gridsup move``), with no coordinator: a grid goes to the live member
whose hash of (member, grid) is highest. Adding or losing a member moves only the grids
that member wins or held (about 1/N of them), never a shuffle of the rest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping


def weight(member: str, grid: str) -> int:
    """The member's score for the grid: a stable 64-bit hash (never Python's ``hash``,
    which differs per process)."""
    digest = hashlib.blake2b(f"{member}\x00{grid}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner(grid: str, members: Iterable[str]) -> str | None:
    """The member that should run ``grid`` among ``members`` (None: no member)."""
    return max(members, key=lambda m: (weight(m, grid), m), default=None)


def assign(
    grids: Iterable[str], members: Iterable[str], pins: Mapping[str, str] | None = None
) -> dict[str, str]:
    """grid -> member for every grid; a pinned grid goes to its pin while that member is
    live, to the hash's choice otherwise. Empty when there is no live member."""
    live = sorted(set(members))
    if not live:
        return {}
    pinned = pins or {}
    placed: dict[str, str] = {}
    for grid in grids:
        pin = pinned.get(grid)
        chosen = pin if pin in live else owner(grid, live)
        assert chosen is not None
        placed[grid] = chosen
    return placed
