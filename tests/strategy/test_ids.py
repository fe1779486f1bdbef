"""Client order ids: deterministic, short, alphanumeric, parse back, foreign ids ignored."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridsup.messages.common import Side
from gridsup.strategy.ids import (
    MAX_CYCLE,
    MAX_LENGTH,
    ClientOrderId,
    grid_tag,
    make_client_order_id,
    parse_client_order_id,
)

grid_ids = st.text(min_size=1, max_size=64)
levels = st.integers(0, 999)
cycles = st.integers(0, MAX_CYCLE)
sides = st.sampled_from(list(Side))


@settings(deadline=None)  # never assert on timing: CI machines are shared
@given(grid_ids, levels, sides, cycles)
def test_ids_round_trip_and_fit_every_exchange(
    grid: str, level: int, side: Side, cycle: int
) -> None:
    cid = make_client_order_id(grid, level, side, cycle)

    assert cid.isascii() and cid.isalnum()
    assert len(cid) <= MAX_LENGTH
    assert cid.startswith("gs")
    assert make_client_order_id(grid, level, side, cycle) == cid  # deterministic
    parsed = parse_client_order_id(cid)
    assert parsed == ClientOrderId(grid_tag(grid), level, side, cycle)
    assert parsed.belongs_to(grid)


@settings(deadline=None)  # never assert on timing: CI machines are shared
@given(grid_ids, grid_ids, levels, sides, cycles)
def test_different_grids_make_different_ids(
    a: str, b: str, level: int, side: Side, cycle: int
) -> None:
    if a != b:
        assert make_client_order_id(a, level, side, cycle) != make_client_order_id(
            b, level, side, cycle
        )


@settings(deadline=None)  # never assert on timing: CI machines are shared
@given(st.tuples(levels, sides, cycles), st.tuples(levels, sides, cycles))
def test_one_grid_never_repeats_an_id(x: tuple[int, Side, int], y: tuple[int, Side, int]) -> None:
    if x != y:
        assert make_client_order_id("btc", *x) != make_client_order_id("btc", *y)


@pytest.mark.parametrize(
    "foreign",
    [
        None,
        "",
        "x-123",
        "web_8f9a0b",
        "gs",
        "gs12345678b0011x",  # junk after the cycle
        "gsXYZ45678b0011",  # tag not hex
        "gs12345678q0011",  # unknown side
        "gs12345678b01",  # level too short
        "gs12345678b001",  # no cycle
        "gs12345678b00107",  # zero-padded cycle is never ours
        "gs12345678b001" + "1" * 30,  # too long
        "gs12345678b001١",  # non-ASCII digit
    ],
)
def test_foreign_ids_parse_to_none(foreign: str | None) -> None:
    assert parse_client_order_id(foreign) is None


@pytest.mark.parametrize(("level", "cycle"), [(-1, 0), (1000, 0), (0, -1), (0, MAX_CYCLE + 1)])
def test_out_of_range_parts_are_refused(level: int, cycle: int) -> None:
    with pytest.raises(ValueError):
        make_client_order_id("btc", level, Side.BUY, cycle)


def test_the_tag_is_a_short_hash_of_the_grid_id() -> None:
    assert grid_tag("btc") == grid_tag("btc")
    assert grid_tag("btc") != grid_tag("btc2")
    assert len(grid_tag("btc")) == 8
    with pytest.raises(ValueError):
        grid_tag("")
