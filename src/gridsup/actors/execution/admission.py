"""What a grid's request must pass before anything of it reaches the exchange: the grid
is one of the run's, the client id is that grid's, the symbol is the one it trades, and
the account is not paused; and, for every order seen on the account, which grid (if any)
it belongs to."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from gridsup.actors.run_config import GridSpec, RunConfig

log = structlog.get_logger("gridsup.actors.execution")


class Admission:
    """The grids one execution actor answers for, and the account's pause.

    ``owner_of`` names the grid of a client id from its tag alone
    (``Booking.grid_of``). A cluster member's execution actor shares the account with
    the other members: only the grids whose strategy actors talk to it are its own
    (placement moves the rest elsewhere), so another member's orders are never adopted
    here; a grid becomes its own with its first query (:meth:`serve`).
    """

    def __init__(self, run: RunConfig, owner_of: Callable[[str | None], str | None]) -> None:
        self.exchange_id = run.exchange_id
        self.owner_of = owner_of
        self.grids: dict[str, GridSpec] = {g.name: g for g in run.grids}
        self.cluster = run.member is not None
        self.served: set[str] = set()
        self.paused: str | None = None  # why the account is paused (keys refused)

    # -- identities -----------------------------------------------------------------------

    def grid_of(self, cid: str | None) -> str | None:
        """The name of the grid that ``cid`` belongs to; None for a foreign order (in a
        cluster, also for a grid no strategy actor of this member has asked about)."""
        grid = self.owner_of(cid)
        if self.cluster and grid not in self.served:
            return None
        return grid

    def serve(self, grid: str) -> None:
        """``grid``'s strategy actor talks to this execution actor: its orders are ours."""
        self.served.add(grid)

    def refusal(self, strategy: str, cid: str, symbol: str | None) -> str | None:
        """Why grid ``strategy`` may not send an order ``cid`` in ``symbol``; None: it may."""
        spec = self.grids.get(strategy)
        if spec is None:
            return f"unknown strategy {strategy!r}"
        if self.grid_of(cid) != strategy:
            return f"client order id {cid!r} does not belong to grid {strategy!r}"
        if symbol is not None and symbol != spec.symbol:
            return f"grid {strategy!r} trades {spec.symbol}, not {symbol}"
        return None

    # -- account pause --------------------------------------------------------------------

    def pause(self, reason: str) -> None:
        """The exchange refused the keys or a permission: stop sending anything for every
        grid of the account (one status, no retry storm) until :meth:`resume`."""
        if self.paused is None:
            log.error("account_paused", exchange=self.exchange_id, reason=reason)
        self.paused = reason

    def resume(self) -> None:
        if self.paused is not None:
            log.warning("account_resumed", exchange=self.exchange_id)
        self.paused = None

    def paused_reason(self) -> str:
        """The refusal sent while the account is paused (retryable: a probe resumes it)."""
        return f"account paused: {self.paused} (check the API key and its permissions)"
