"""The runtime with real processes and sockets: a supervisor of test actors
(tests/runtime/rt_app.py) in a subprocess, observed through its control socket, its
JSON log, and the evidence files its actors write."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
import zmq

from gridsup.messages.control import ActorStatus, StatusQuery, StatusReply
from gridsup.messages.market import MARKET_CODEC, Tick
from gridsup.runtime.liveness import process_alive
from gridsup.supervisor.client import NoSupervisor, ask
from gridsup.supervisor.discovery import read_pointer
from helpers import eventually

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
TIMEOUT = 30.0  # generous: two busy cores


@dataclass
class App:
    base: Path
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def evidence(self) -> Path:
        return self.base / "evidence"

    def status(self) -> StatusReply:
        reply = ask(self.base, StatusQuery(), timeout=10.0)
        assert isinstance(reply, StatusReply)
        return reply

    def actor(self, name: str) -> ActorStatus:
        (row,) = [a for a in self.status().actors if a.name == name]
        return row

    def events(self) -> list[str]:
        path = self.evidence / "events.log"
        return path.read_text().splitlines() if path.exists() else []

    def log_events(self) -> list[dict[str, object]]:
        # Several processes append to one file and structlog's PrintLogger writes the
        # newline separately, so objects may share a line: scan object by object.
        text, out, pos = self.log.read_text(), [], 0
        decoder = json.JSONDecoder()
        while (start := text.find("{", pos)) >= 0:
            obj, pos = decoder.raw_decode(text, start)
            out.append(obj)
        return out

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(self.base, *args)


def run_cli(base: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRIDSUP_RUN_DIR": str(base)}
    return subprocess.run(
        [sys.executable, "-m", "gridsup", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def gone(pid: int) -> bool:
    return not process_alive(pid)


def all_running(app: App) -> bool:
    try:
        return all(a.state == "running" for a in app.status().actors)
    except NoSupervisor:
        return False


def launch(scenario: str) -> Iterator[App]:
    # A short base path: unix socket paths are limited to 107 bytes.
    base = Path(tempfile.mkdtemp(prefix="gs-", dir="/tmp"))
    log = base / "supervisor.log"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "rt_app.py"), str(base), scenario],
            stdout=err,
            stderr=err,
            env=env,
            cwd=ROOT,
        )
    app = App(base, proc, log)
    pids: set[int] = set()
    try:
        eventually(lambda: read_pointer(base) is not None or proc.poll() is not None, TIMEOUT)
        assert proc.poll() is None, log.read_text()
        yield app
    finally:
        if proc.poll() is None:
            with contextlib.suppress(NoSupervisor):
                pids = {a.pid for a in app.status().actors if a.pid}
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for pid in pids:  # never leave a test actor behind, whatever happened
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def crashes() -> Iterator[App]:
    yield from launch("crashes")


@pytest.fixture
def groups() -> Iterator[App]:
    yield from launch("groups")


# -- crashes, hangs, crash loops: one supervisor shared by these tests -------------------


@pytest.mark.parametrize("name", ["exiter", "raiser"])
def test_an_actor_that_crashes_is_restarted_and_counted(crashes: App, name: str) -> None:
    row = eventually(
        lambda: (r := crashes.actor(name)).restarts == 1 and r.state == "running" and r, TIMEOUT
    )

    assert row.pid is not None
    assert crashes.events().count(f"start {name}") == 2


def test_an_actor_killed_with_sigkill_is_restarted_and_counted(crashes: App) -> None:
    before = eventually(lambda: (r := crashes.actor("victim")).state == "running" and r, TIMEOUT)
    assert before.pid is not None

    os.kill(before.pid, signal.SIGKILL)

    after = eventually(
        lambda: (r := crashes.actor("victim")).state == "running" and r.pid != before.pid and r,
        TIMEOUT,
    )
    assert after.restarts == before.restarts + 1
    assert gone(before.pid)


def test_a_hung_actor_is_killed_and_restarted(crashes: App) -> None:
    # >= 1: on a starved machine a restarted hanger-to-be may be taken for hung again.
    eventually(
        lambda: (r := crashes.actor("hanger")).restarts >= 1 and r.state == "running", TIMEOUT
    )

    kills = [e for e in crashes.log_events() if e["event"] == "actor_killed"]
    assert {"actor": "hanger", "why": "heartbeat_lost"}.items() <= next(
        e for e in kills if e["actor"] == "hanger"
    ).items()


def test_an_actor_not_ready_in_time_is_killed_and_restarted(crashes: App) -> None:
    eventually(lambda: (r := crashes.actor("slow")).restarts >= 1 and r.state == "running", TIMEOUT)

    kills = [e for e in crashes.log_events() if e["event"] == "actor_killed"]
    assert any(e["actor"] == "slow" and e["why"] == "ready_timeout" for e in kills)


def test_a_crash_looping_actor_ends_failed_with_an_alert_while_its_sibling_lives_on(
    crashes: App,
) -> None:
    steady_before = eventually(
        lambda: (r := crashes.actor("steady")).state == "running" and r, TIMEOUT
    )

    looper = eventually(lambda: (r := crashes.actor("looper")).state == "failed" and r, TIMEOUT)
    beats = steady_before.status["heartbeats"]
    steady_after = eventually(
        lambda: (r := crashes.actor("steady")).status["heartbeats"] != beats and r, TIMEOUT
    )

    assert looper.pid is None
    assert looper.restarts == 2
    alerts = (crashes.evidence / "alerts.log").read_text().splitlines()
    assert [line.split()[0] for line in alerts] == ["looper"]
    failed = [e for e in crashes.log_events() if e["event"] == "actor_failed"]
    assert [(e["actor"], e["level"]) for e in failed] == [("looper", "error")]
    assert steady_after.pid == steady_before.pid
    assert steady_after.restarts == 0
    assert steady_after.state == "running"


def test_a_temporary_actor_that_crashes_is_not_restarted(crashes: App) -> None:
    row = eventually(lambda: (r := crashes.actor("once")).state == "exited" and r, TIMEOUT)

    assert row.restarts == 0
    assert crashes.events().count("start once") == 1


@pytest.fixture
def locked() -> Iterator[App]:
    yield from launch("locked")


def test_an_actor_exiting_locked_is_failed_at_once_with_the_reason(locked: App) -> None:
    row = eventually(lambda: (r := locked.actor("locked")).state == "failed" and r, TIMEOUT)
    eventually(lambda: locked.actor("steady").state == "running", TIMEOUT)

    assert row.restarts == 0
    assert row.pid is None
    assert locked.events().count("start locked") == 1
    alerts = (locked.evidence / "alerts.log").read_text().splitlines()
    assert len(alerts) == 1
    assert alerts[0].startswith("locked strategy 0 exit code 75:")
    failed = [e for e in locked.log_events() if e["event"] == "actor_failed"]
    assert [(e["actor"], e["exitcode"], e["level"]) for e in failed] == [("locked", 75, "error")]


# -- start order, stop order, control socket, cli ----------------------------------------


def test_groups_start_in_order_and_gridsup_stop_stops_them_in_reverse(groups: App) -> None:
    eventually(lambda: all_running(groups), TIMEOUT)
    pids = [a.pid for a in groups.status().actors]

    result = groups.cli("stop")

    assert result.returncode == 0, result.stderr
    assert "stopped" in result.stdout
    assert groups.proc.wait(TIMEOUT) == 0
    events = groups.events()
    starts = [e.split()[1] for e in events if e.startswith("start")]
    stops = [e.split()[1] for e in events if e.startswith("stop")]
    assert starts[:3] == ["store", "exec", "market"]
    assert sorted(starts[3:]) == ["strat-a", "strat-b"]
    assert sorted(stops[:2]) == ["strat-a", "strat-b"]
    assert stops[2:] == ["market", "exec", "store"]
    assert all(e.endswith("requested") for e in events if e.startswith("stop"))
    assert all(pid is not None and gone(pid) for pid in pids)
    assert read_pointer(groups.base) is None
    assert [p.name for p in groups.base.iterdir() if p.name.startswith("run-")] == []


def test_gridsup_status_reports_every_actor(groups: App) -> None:
    eventually(lambda: all_running(groups), TIMEOUT)

    table = groups.cli("status")
    as_json = groups.cli("status", "--json")

    assert table.returncode == 0, table.stderr
    assert as_json.returncode == 0, as_json.stderr
    reply = json.loads(as_json.stdout)
    rows = {a["name"]: a for a in reply["actors"]}
    assert set(rows) == {"store", "exec", "market", "strat-a", "strat-b"}
    assert {a["kind"] for a in rows.values()} == {
        "persistence",
        "execution",
        "market_data",
        "strategy",
    }
    assert all(a["state"] == "running" and a["pid"] for a in rows.values())
    assert reply["supervisor_pid"] == groups.proc.pid
    for name in rows:
        assert name in table.stdout


def test_an_actor_drops_and_counts_garbage_frames_and_keeps_running(groups: App) -> None:
    eventually(lambda: all_running(groups), TIMEOUT)
    sink = groups.actor("strat-b")
    endpoint = f"ipc://{read_pointer(groups.base).run_dir}/ticks-strat-b.sock"  # type: ignore[union-attr]
    tick = MARKET_CODEC.encode(Tick(symbol="BTC/USDT", timestamp=1, last=Decimal("1.5")))
    ctx = zmq.Context()
    try:
        push = ctx.socket(zmq.PUSH)
        push.setsockopt(zmq.LINGER, 1000)
        push.connect(endpoint)
        for frame in (b"\xff\x00garbage", tick[:-3], b"", tick, tick):
            push.send(frame)
        push.close()
    finally:
        ctx.term()

    row = eventually(lambda: (r := groups.actor("strat-b")).status.get("ticks") == 2 and r, TIMEOUT)

    assert row.status["frames_dropped"] == 3
    assert row.pid == sink.pid
    assert row.state == "running"


def test_a_strategy_actor_process_stays_light(groups: App) -> None:
    row = eventually(
        lambda: (r := groups.actor("strat-a")).status.get("strategy_loaded") and r, TIMEOUT
    )

    assert row.status["heavy"] == ""


def test_sigterm_stops_an_actor_cleanly_and_it_is_restarted(groups: App) -> None:
    before = eventually(lambda: all_running(groups) and groups.actor("market"), TIMEOUT)
    assert before.pid is not None

    os.kill(before.pid, signal.SIGTERM)

    eventually(
        lambda: (r := groups.actor("market")).restarts == 1 and r.state == "running", TIMEOUT
    )
    assert "stop market signal" in groups.events()


def test_killing_the_supervisor_leaves_no_actor_behind(groups: App) -> None:
    eventually(lambda: all_running(groups), TIMEOUT)
    pids = [a.pid for a in groups.status().actors]
    assert all(pids)

    groups.proc.send_signal(signal.SIGKILL)
    groups.proc.wait(TIMEOUT)

    eventually(lambda: all(gone(pid) for pid in pids if pid), 10.0, message="actors outlived it")
    assert not any(e.startswith("stop") for e in groups.events())  # no side effects
    result = groups.cli("status")
    assert result.returncode == 3


@pytest.mark.parametrize(
    "command", [["status"], ["status", "--json"], ["stop"], ["stop", "--cancel-orders"]]
)
def test_without_a_supervisor_status_and_stop_say_so_and_exit_3(
    tmp_path: Path, command: list[str]
) -> None:
    base = tmp_path / "nobody"

    result = run_cli(base, *command)

    assert result.returncode == 3
    if "--json" in command:  # docs/cli.md: under --json, errors are JSON on stdout
        error = json.loads(result.stdout)["error"]
        assert (error["exit_code"], error["command"]) == (3, "status")
        assert "no supervisor is running" in error["message"]
    else:
        assert "no supervisor is running" in result.stderr
    assert "Traceback" not in result.stderr
