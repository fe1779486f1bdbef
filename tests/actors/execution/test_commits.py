"""ExecutionCommitter, durable first: actions leave only once the records they wait for
are acknowledged, in order; moved positions are saved with a ledger behind the records;
one save is in flight at a time, and changes made meanwhile go with the next one. The
store is answered by hand; the sent messages are what the STORE socket would carry."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from gridsup.actors.execution.budget import Budgets
from gridsup.actors.execution.commits import ExecutionCommitter
from gridsup.actors.execution.outbox import OutboxEntry
from gridsup.actors.execution.state import EXECUTION_STATE_KEY
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
