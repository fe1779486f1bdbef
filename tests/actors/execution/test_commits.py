"""ExecutionCommitter, durable first: actions leave only once the records they wait for
are acknowledged, in order; moved positions are saved with a ledger behind the records;
one save is in flight at a time, and changes made meanwhile go with the next one; the
paper account goes split, its changed buckets only, all of them after a refused save. The
store is answered by hand; the sent messages are what the STORE socket would carry."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from gridsup.actors.execution.budget import Budgets
from gridsup.actors.execution.commits import ExecutionCommitter
from gridsup.actors.execution.outbox import OutboxEntry
from gridsup.actors.execution.state import EXECUTION_STATE_KEY, paper_bucket_key
from gridsup.actors.run_config import PAPER_ACCOUNT_KEY
from gridsup.exchange.paper.snapshot import bucket_of
from gridsup.messages.store import Ack, SaveState, StoreMessage, WriteBatch


class FakeBooking:
    ledger_changed = False


class Store:
    """A committer wired as the execution actor wires it (live), with what it sent."""

    def __init__(self) -> None:
        self.sent: list[StoreMessage] = []
        self.emitted: list[OutboxEntry] = []
        self.booking = FakeBooking()
        self.commits = ExecutionCommitter(
            Budgets({"btc": Decimal(1000)}),
            dry_run=False,
            timeout=60.0,
            send_store=self.sent.append,
            emit=self.emitted.extend,
        )
        self.commits.epoch = 7
        self.commits.booking = self.booking  # type: ignore[assignment]

    def ack(self, request_id: str) -> None:
        self.commits.on_reply(Ack(request_id=request_id))


def _record(n: int) -> SaveState:
    return SaveState(request_id=f"r{n}", grid_id="btc", version=n, state=b"{}")


def _reply(n: int) -> OutboxEntry:
    return ("reply", [b"grid"], n)


def _ids(message: Any) -> list[str]:
    if isinstance(message, WriteBatch):
        return [r.request_id for r in message.requests]
    return [message.request_id]


def test_actions_leave_once_their_records_are_acked_in_order() -> None:
    store = Store()

    store.commits.commit([_record(1)], [_reply(1)])
    store.commits.commit([_record(2), _record(3)], [_reply(2)])

    assert [_ids(m) for m in store.sent] == [["r1"], ["r2", "r3"]]
    assert store.emitted == [] and store.commits.busy

    store.ack("r2")
    store.ack("r3")
    assert store.emitted == []  # the first one's record is not durable yet

    store.ack("r1")
    assert store.emitted == [_reply(1), _reply(2)]
    assert not store.commits.busy


def test_an_action_without_records_leaves_at_once() -> None:
    store = Store()

    store.commits.commit([], [_reply(1)])

    assert (store.sent, store.emitted) == ([], [_reply(1)])


def test_moved_positions_are_saved_behind_the_records_one_save_at_a_time() -> None:
    store = Store()
    store.booking.ledger_changed = True

    store.commits.commit([_record(1)], [_reply(1)])

    [record, save] = store.sent
    assert _ids(record) == ["r1"] and isinstance(save, SaveState)
    assert (save.request_id, save.grid_id, save.version) == ("ledger-7-1", EXECUTION_STATE_KEY, 1)
    assert not store.booking.ledger_changed

    store.booking.ledger_changed = True
    store.commits.commit([_record(2)], [_reply(2)])
    assert [_ids(m) for m in store.sent[2:]] == [["r2"]]  # its save waits for the first

    for rid in ("r1", "ledger-7-1"):
        store.ack(rid)

    assert store.emitted == [_reply(1)]  # the second waits for its own save
    [next_save] = store.sent[3:]
    assert _ids(next_save) == ["ledger-7-2"]
    store.ack("r2")
    store.ack("ledger-7-2")
    assert store.emitted == [_reply(1), _reply(2)]
    assert store.commits.ledger_version == 2


class FakeVenue:
    """What the committer reads of a paper venue: its account."""

    def __init__(self, paper: Any) -> None:
        self.paper = paper


def _paper_committer() -> tuple[Store, Any]:
    from gridsup.exchange.paper.engine import PaperExchange
    from gridsup.messages.market import MarketInfo

    markets = {
        s: MarketInfo(symbol=s, base=s.split("/")[0], quote="USDT")
        for s in ("BTC/USDT", "ETH/USDT")
    }
    paper = PaperExchange(markets, {"USDT": Decimal(10_000)})
    store = Store()
    store.commits.dry_run = True
    store.commits.paper = FakeVenue(paper)  # type: ignore[assignment]
    return store, paper


def _buy(paper: Any, symbol: str) -> None:
    from gridsup.messages.common import OrderType, Side

    paper.create_order(symbol, Side.BUY, OrderType.LIMIT, Decimal(1), Decimal(10))


def _paper_saves(message: Any) -> list[str]:
    """The paper account's saved states a batch writes: "core", or a bucket's key."""
    return [
        "core" if r.grid_id == PAPER_ACCOUNT_KEY else r.grid_id
        for r in message.requests
        if isinstance(r, SaveState) and r.grid_id.startswith(PAPER_ACCOUNT_KEY)
    ]


def test_a_flush_saves_the_paper_accounts_core_and_the_buckets_that_changed() -> None:
    store, paper = _paper_committer()
    btc, eth = (paper_bucket_key(bucket_of(s)) for s in ("BTC/USDT", "ETH/USDT"))

    _buy(paper, "BTC/USDT")
    _buy(paper, "ETH/USDT")
    store.commits.commit([_record(1)], [_reply(1)], flush=True)
    first = store.sent[-1]
    assert sorted(_paper_saves(first)) == sorted(["core", btc, eth])  # all, the first time
    assert _ids(first)[-1] == "r1"  # the record behind the account that holds it
    for rid in _ids(first):
        store.ack(rid)
    assert store.emitted == [_reply(1)]

    _buy(paper, "BTC/USDT")
    store.commits.commit([_record(2)], [_reply(2)], flush=True)
    assert _paper_saves(store.sent[-1]) == ["core", btc]  # ETH's bucket did not change


def test_a_refused_paper_save_makes_the_next_one_write_every_bucket() -> None:
    store, paper = _paper_committer()
    btc, eth = (paper_bucket_key(bucket_of(s)) for s in ("BTC/USDT", "ETH/USDT"))
    _buy(paper, "ETH/USDT")
    store.commits.commit([_record(1)], [], flush=True)
    for rid in _ids(store.sent[-1]):
        store.ack(rid)

    _buy(paper, "BTC/USDT")
    store.commits.commit([_record(2)], [], flush=True)
    batch = store.sent[-1]
    [bucket] = [r for r in batch.requests if isinstance(r, SaveState) and r.grid_id == btc]
    store.commits.on_reply(Ack(request_id=bucket.request_id, ok=False, error="bad data"))
    for rid in _ids(batch):
        if rid != bucket.request_id:
            store.ack(rid)

    _buy(paper, "BTC/USDT")
    store.commits.commit([_record(3)], [], flush=True)
    assert sorted(_paper_saves(store.sent[-1])) == sorted(["core", btc, eth])
