"""Rendezvous placement of grids on cluster members: stable, balanced, minimal moves."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridsup.supervisor.placement import assign, owner

GRIDS = [f"grid-{i}" for i in range(600)]


def test_every_member_computes_the_same_assignment_whatever_the_order() -> None:
    a = assign(GRIDS, ["m1", "m2", "m3"])
    b = assign(reversed(GRIDS), ["m3", "m1", "m2", "m2"])

    assert a == b


def test_grids_are_spread_over_the_members() -> None:
    counts = Counter(assign(GRIDS, ["m1", "m2", "m3"]).values())

    assert set(counts) == {"m1", "m2", "m3"}
    assert all(150 <= n <= 250 for n in counts.values()), counts


@pytest.mark.parametrize(
    ("before", "after"),
    [(["m1", "m2", "m3"], ["m1", "m2"]), (["m1", "m2"], ["m1", "m2", "m3"])],
    ids=["member_lost", "member_added"],
)
def test_a_membership_change_moves_only_the_grids_of_that_member(
    before: list[str], after: list[str]
) -> None:
    old, new = assign(GRIDS, before), assign(GRIDS, after)

    moved = [g for g in GRIDS if old[g] != new[g]]

    assert moved
    assert all("m3" in (old[g], new[g]) for g in moved)
    assert len(moved) < len(GRIDS) / 2


def test_a_pin_wins_while_its_member_is_live_and_falls_back_when_it_is_not() -> None:
    natural = owner("grid-7", ["m1", "m2"])
    other = "m1" if natural == "m2" else "m2"

    assert assign(["grid-7"], ["m1", "m2"], {"grid-7": other}) == {"grid-7": other}
    assert assign(["grid-7"], [natural], {"grid-7": "gone"}) == {"grid-7": natural}


def test_no_live_member_assigns_nothing() -> None:
    assert assign(GRIDS, []) == {}


@given(
    st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=8, unique=True),
    st.lists(st.text(min_size=1, max_size=12), max_size=30, unique=True),
)
def test_every_grid_goes_to_a_live_member(members: list[str], grids: list[str]) -> None:
    placed = assign(grids, members)

    assert set(placed) == set(grids)
    assert set(placed.values()) <= set(members)
