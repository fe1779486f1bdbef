"""Alerts: deduplicated and rate-limited per cause (pure, over a fake clock), judged from
the children's statuses, and delivered through real apprise to a real HTTP receiver on
127.0.0.1 (``json://``), without ever waiting for it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from alert_receiver import Receiver
from gridsup.messages.alerts import AlertCause, AlertRaised, AlertSeverity
from gridsup.messages.control import REPORT_CODEC, ActorStatus
from gridsup.supervisor.alert_rules import (
    AlertLimits,
    AlertRules,
    AlertsExtension,
    Condition,
    HostFree,
)
from gridsup.supervisor.alert_sender import AlertConfigError, AppriseSender, alert_urls
from gridsup.supervisor.alerts import AlertCenter
from helpers import eventually

WINDOW = 900.0
FREE = HostFree(disk_pct=50.0, memory_pct=50.0)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Inbox:
    """A Notifier that keeps what it is given (the seam's hand-written fake)."""

    def __init__(self, accept: bool = True) -> None:
        self.messages: list[tuple[str, str, AlertSeverity]] = []
        self.accept = accept

    def submit(self, title: str, body: str, severity: AlertSeverity) -> bool:
        if self.accept:
            self.messages.append((title, body, severity))
        return self.accept


def center(inbox: Inbox | None = None, clock: Clock | None = None) -> AlertCenter:
    return AlertCenter(inbox or Inbox(), WINDOW, now=clock or Clock())


# ------------------------------------------------------------------ dedup and rate limit


@pytest.mark.parametrize("cause", list(AlertCause))
def test_each_cause_fires_once_while_it_holds(cause: AlertCause) -> None:
    inbox = Inbox()
    alerts = center(inbox)

    for _ in range(5):
        alerts.raise_(cause, "btc", "detail")

    assert len(inbox.messages) == 1
    title, body, _ = inbox.messages[0]
    assert cause.value in title and "btc: detail" in body
    assert alerts.sent_by_cause() == {cause.value: 1}


def test_a_storm_sends_one_message_per_window_and_a_summary_when_it_clears() -> None:
    inbox, clock = Inbox(), Clock()
    alerts = center(inbox, clock)

    for i in range(100):  # a hundred grids in a crash loop
        alerts.raise_(AlertCause.ACTOR_RESTARTING, f"grid-{i}", "4 restarts in 10 min")
        clock.t += 1
    alerts.tick()
    assert len(inbox.messages) == 1  # the first; the other 99 wait for the window

    clock.t += WINDOW
    alerts.tick()
    assert len(inbox.messages) == 2
    assert "(99)" in inbox.messages[1][0] and "and 89 more" in inbox.messages[1][1]
    alerts.tick()
    assert len(inbox.messages) == 2

    for i in range(100):
        alerts.clear(AlertCause.ACTOR_RESTARTING, f"grid-{i}")
    assert len(inbox.messages) == 3
    assert "cleared" in inbox.messages[2][0] and "100 time(s)" in inbox.messages[2][1]
    assert alerts.suppressed == 99


def test_a_flapping_condition_is_told_at_most_once_per_window() -> None:
    inbox, clock = Inbox(), Clock()
    alerts = center(inbox, clock)

    for _ in range(50):
        alerts.raise_(AlertCause.EXCHANGE_RATE_LIMITED, "binance")
        clock.t += 5
        alerts.clear(AlertCause.EXCHANGE_RATE_LIMITED, "binance")
        clock.t += 5
        alerts.tick()

    raises = [m for m in inbox.messages if "cleared" not in m[0]]
    summaries = [m for m in inbox.messages if "cleared" in m[0]]
    assert len(raises) == 1 and len(summaries) == 1  # 500 s < one window


def test_no_summary_for_a_condition_never_told() -> None:
    inbox = Inbox(accept=False)  # the queue is full: nothing goes out
    alerts = center(inbox)

    alerts.raise_(AlertCause.DISK_LOW, "disk")
    alerts.clear(AlertCause.DISK_LOW, "disk")

    assert alerts.sent_by_cause() == {}
    assert alerts.suppressed == 2  # the raise and the summary, both dropped


# ---------------------------------------------------------------------------- the rules


def actor(
    name: str, kind: str, process: str = "running", restarts: int = 0, **status: object
) -> ActorStatus:
    """A child's row; ``process`` is the supervisor's state of it, ``status`` its own."""
    fields: dict[str, object] = dict(status)
    return ActorStatus(name=name, kind=kind, state=process, restarts=restarts, status=fields)  # type: ignore[arg-type]


GRID = {"grid": "btc", "symbol": "BTC/USDT", "state": "trading", "stopped": False}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({}, set()),
        ({"stopped": True, "stop_reason": "stop_loss"}, {AlertCause.STOP_LOSS_HIT}),
        ({"stopped": True, "stop_reason": "take_profit"}, {AlertCause.TAKE_PROFIT_HIT}),
        (
            {"state": "aborted", "recon_aborted": True, "recon_mismatches": 2},
            {AlertCause.GRID_STOPPED, AlertCause.RECONCILIATION_MISMATCH},
        ),
        ({"recon_mismatches": 1}, {AlertCause.RECONCILIATION_MISMATCH}),
        ({"skipped_levels": 2}, {AlertCause.SLOT_GIVEN_UP}),
    ],
)
def test_grid_conditions(status: dict[str, object], expected: set[AlertCause]) -> None:
    rules = AlertRules(AlertLimits(), "binance")

    held = rules.judge([actor("grid-btc", "strategy", **{**GRID, **status})], FREE, 0.0)

    assert {c.cause for c in held} == expected
    assert all(c.subject == "btc" for c in held)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({"exchange_reachable": False}, {AlertCause.EXCHANGE_UNREACHABLE}),
        ({"auth_refused": True}, {AlertCause.EXCHANGE_AUTH_REFUSED}),
        ({"http_429": 1}, {AlertCause.EXCHANGE_RATE_LIMITED}),
        ({"http_418": 1}, {AlertCause.EXCHANGE_BANNED}),
        # a 429's pause is no ban: the budget reports 0 for "no 418 ban"
        ({"http_429": 1, "banned_until_ms": 0}, {AlertCause.EXCHANGE_RATE_LIMITED}),
        ({"http_429": 0, "exchange_reachable": True}, set()),
    ],
)
def test_account_conditions(status: dict[str, object], expected: set[AlertCause]) -> None:
    rules = AlertRules(AlertLimits(), "binance")

    held = rules.judge([actor("execution", "execution", **status)], FREE, 10.0)

    assert {c.cause for c in held} == expected


def test_restarts_alert_above_n_in_the_period_and_clear_after_it() -> None:
    rules = AlertRules(AlertLimits(restarts=3, restart_period_s=600), "paper")

    def judge(restarts: int, now: float) -> set[AlertCause]:
        return {
            c.cause
            for c in rules.judge([actor("grid-a", "strategy", restarts=restarts)], FREE, now)
        }

    assert judge(3, 0) == set()  # three restarts: at the limit
    assert judge(4, 10) == {AlertCause.ACTOR_RESTARTING}
    assert judge(4, 700) == set()  # the period passed without one more


def test_failed_actor_database_disk_and_memory() -> None:
    rules = AlertRules(AlertLimits(disk_min_free_pct=5, memory_min_free_pct=5), "paper")
    actors = [
        actor("execution", "execution", process="failed"),
        actor("persistence", "persistence", db_failing=True),
    ]

    held = rules.judge(actors, HostFree(disk_pct=1.0, memory_pct=2.0), 0.0)

    assert {c.cause for c in held} == {
        AlertCause.ACTOR_FAILED,
        AlertCause.DATABASE_UNREACHABLE,
        AlertCause.DISK_LOW,
        AlertCause.MEMORY_LOW,
    }


def test_the_extension_raises_new_conditions_and_clears_gone_ones(tmp_path: Path) -> None:
    inbox = Inbox()
    ext = AlertsExtension(center(inbox), AlertRules(AlertLimits(), "paper"), None, tmp_path)
    stopped = actor("grid-btc", "strategy", **{**GRID, "stopped": True, "stop_reason": "stop_loss"})

    ext.evaluate([stopped], 0.0)
    ext.evaluate([stopped], 1.0)
    ext.evaluate([actor("grid-btc", "strategy", **GRID)], 2.0)

    assert [m[0].split(": ", 1)[1] for m in inbox.messages] == [
        "stop_loss_hit (1)",
        "stop_loss_hit cleared",
    ]


def test_an_actor_raises_an_alert_with_a_typed_message(tmp_path: Path) -> None:
    inbox = Inbox()
    ext = AlertsExtension(center(inbox), AlertRules(AlertLimits(), "paper"), None, tmp_path)
    raised = AlertRaised(
        actor="execution",
        pid=1,
        cause=AlertCause.EXCHANGE_BANNED,
        subject="binance",
        detail="418 until 12:00",
        severity=AlertSeverity.CRITICAL,
    )

    ext.on_report(REPORT_CODEC.decode(REPORT_CODEC.encode(raised)))  # type: ignore[arg-type]

    assert len(inbox.messages) == 1 and inbox.messages[0][2] is AlertSeverity.CRITICAL
    assert "418 until 12:00" in inbox.messages[0][1]


# ------------------------------------------------------------- real apprise, real HTTP


def test_each_cause_reaches_a_real_receiver_once(receiver: Receiver) -> None:
    sender = AppriseSender([receiver.url], timeout_s=5)
    sender.start()
    alerts = AlertCenter(sender, WINDOW)
    try:
        for cause in AlertCause:
            for _ in range(3):
                alerts.raise_(cause, "subject-a", "why")
        eventually(
            lambda: len(receiver.messages) >= len(AlertCause), timeout=30, message="delivered"
        )
    finally:
        sender.stop(10)
    titles = receiver.titles()
    assert len(titles) == len(AlertCause)
    for cause in AlertCause:
        assert sum(cause.value in t for t in titles) == 1, cause
    assert sender.sent == len(AlertCause) and sender.failed == 0


def test_a_hanging_receiver_never_blocks_the_caller() -> None:
    hanging = Receiver(hold=True)
    sender = AppriseSender([hanging.url], timeout_s=20)
    sender.start()
    alerts = AlertCenter(sender, window_s=0.0)  # no rate limit: try to flood it
    done = threading.Event()
    try:
        for i in range(500):
            alerts.raise_(AlertCause.GRID_STOPPED, f"grid-{i}")
        done.set()
        # Every call returned while the receiver still holds the first request.
        assert hanging.arrived.wait(30)
        assert done.is_set() and not hanging.release.is_set()
        assert len(hanging.messages) == 1
        assert sender.dropped > 0 and alerts.suppressed == sender.dropped
    finally:
        hanging.close()
        sender.stop(1)


def test_alert_urls_come_from_the_environment_and_a_file(tmp_path: Path) -> None:
    secrets = tmp_path / "urls"
    secrets.write_text("# ops phone\njson://127.0.0.1:1/a\n\nslack://T/B/C/#ops\n")
    env = {
        "GRIDSUP_ALERT_URLS": "json://x:1/b, json://x:2/c",
        "GRIDSUP_ALERT_URLS_FILE": str(secrets),
    }

    assert alert_urls(env) == [
        "json://x:1/b",
        "json://x:2/c",
        "json://127.0.0.1:1/a",
        "slack://T/B/C/#ops",
    ]
    with pytest.raises(AlertConfigError, match="cannot read"):
        alert_urls({"GRIDSUP_ALERT_URLS_FILE": str(tmp_path / "absent")})
    with pytest.raises(AlertConfigError, match="#2") as refused:
        AppriseSender(["json://127.0.0.1:1/", "nonsense-secret-token"])
    assert "secret-token" not in str(refused.value)


def test_conditions_are_values() -> None:
    a = Condition(AlertCause.DISK_LOW, "disk", "1% free")
    assert a == Condition(AlertCause.DISK_LOW, "disk", "1% free") and len({a, a}) == 1
