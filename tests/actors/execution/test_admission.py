"""Admission: a request passes only for a grid of the run, under that grid's own client
ids and symbol; refused keys pause the whole account (one alert, however many refusals)
until it resumes; a cluster member counts a grid as its own once it was asked about it."""

from __future__ import annotations

import pytest
from desk_parts import SYMBOL, cid, grids_run
from structlog.testing import capture_logs

from gridsup.actors.execution.admission import Admission
from gridsup.actors.execution.booking import Booking
from gridsup.actors.execution.budget import Budgets
from gridsup.actors.execution.tracked_orders import TrackedOrders
from gridsup.actors.run_config import RunConfig


def admission(run: RunConfig) -> Admission:
    booking = Booking(run, TrackedOrders(), Budgets({}), "paper", 1)
    return Admission(run, booking.grid_of)


@pytest.mark.parametrize(
    ("strategy", "client_order_id", "symbol", "refusal"),
    [
        ("a", cid("a", 1), SYMBOL, None),
        ("a", cid("a", 1), None, None),
        ("zz", cid("a", 1), SYMBOL, "unknown strategy 'zz'"),
        ("b", cid("a", 1), SYMBOL, f"client order id {cid('a', 1)!r} does not belong to grid 'b'"),
        ("a", "someone-else", SYMBOL, "client order id 'someone-else' does not belong to grid 'a'"),
        ("a", cid("a", 1), "ETH/USDT", "grid 'a' trades BTC/USDT, not ETH/USDT"),
    ],
)  # fmt: skip
def test_a_request_passes_only_for_its_own_grid_ids_and_symbol(
    strategy: str, client_order_id: str, symbol: str | None, refusal: str | None
) -> None:
    assert admission(grids_run()).refusal(strategy, client_order_id, symbol) == refusal


def test_an_order_belongs_to_the_grid_its_id_names() -> None:
    gate = admission(grids_run())

    assert [gate.grid_of(c) for c in (cid("a", 3), cid("b", 1), "someone-else", None)] == [
        "a",
        "b",
        None,
        None,
    ]


def test_a_cluster_member_owns_a_grid_once_its_strategy_asked() -> None:
    gate = admission(grids_run(member="m1"))
    before = (gate.grid_of(cid("a", 1)), gate.refusal("a", cid("a", 1), SYMBOL))

    gate.serve("a")

    assert before == (None, f"client order id {cid('a', 1)!r} does not belong to grid 'a'")
    assert (gate.grid_of(cid("a", 1)), gate.grid_of(cid("b", 1))) == ("a", None)
    assert gate.refusal("a", cid("a", 1), SYMBOL) is None


def test_refused_keys_pause_the_account_with_one_alert_until_it_resumes() -> None:
    gate = admission(grids_run())

    with capture_logs() as logs:
        gate.pause("-2015 Invalid API-key")
        gate.pause("-2015 Invalid API-key, again")
        paused = (gate.paused, gate.paused_reason())
        gate.resume()
        gate.resume()

    assert paused == (
        "-2015 Invalid API-key, again",
        "account paused: -2015 Invalid API-key, again (check the API key and its permissions)",
    )
    assert gate.paused is None
    assert [e["event"] for e in logs] == ["account_paused", "account_resumed"]
