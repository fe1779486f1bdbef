"""Shared helpers for the trading-actor tests: real actor processes, real sockets.

:class:`ActorHost` plays the supervisor's part of the control channel (it binds the
report PULL and command PUB sockets of a private run directory, heartbeats the actors
and collects their Ready/Heartbeat/Failed reports) and starts actors as real child
processes through the runtime's own entry point (``gridsup.runtime.entry.child_main``),
so a test can start, stop and ``kill -9`` them one by one and talk to them with its own
DEALER/SUB sockets (:class:`Client`, :class:`Subscriber`).

Tests import the helpers from ``trading_support`` (a name no other test package uses:
``from conftest import ...`` resolved to another package's conftest when several test
directories ran in one pytest call); ``conftest.py`` re-exports the fixtures.
The names below are kept stable: ActorHost, Client, Subscriber, paper_markets, make_run,
sqlite_url, pg_schema.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import zmq

from gridsup.actors.run_config import GridSpec, Mode, RunConfig
from gridsup.exchange.markets import paper_market
from gridsup.messages.codec import Codec
from gridsup.messages.control import COMMAND_CODEC, REPORT_CODEC, Failed, Heartbeat, Ready, Stop
from gridsup.messages.market import MarketInfo
from gridsup.runtime.actor import RuntimeInfo
from gridsup.runtime.endpoints import BROADCAST_TOPIC, COMMAND, REPORT, RunDir, command_topic
from gridsup.runtime.entry import Launch, child_main
from gridsup.supervisor.processes import make_context
from helpers import BTC_USDT, eventually
from loopback_process import loopback_process

# Keys the loopback exchange accepts. Set at import, before any actor process exists:
# a forkserver's children see the environment the server was started with.
LIVE_KEY_ENV, LIVE_SECRET_ENV = "GRIDSUP_TEST_API_KEY", "GRIDSUP_TEST_API_SECRET"
os.environ.setdefault(LIVE_KEY_ENV, "loopback-trading-key-0123456789")
os.environ.setdefault(LIVE_SECRET_ENV, "loopback-trading-secret-abcdefghij")

PG_URL = os.environ.get("GRIDSUP_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")

ETH = paper_market("ETH/USDT")


def paper_markets() -> dict[str, MarketInfo]:
    return {BTC_USDT.symbol: BTC_USDT, ETH.symbol: ETH}


def sqlite_url(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{directory / 'gridsup.db'}"


def make_run(
    run_dir: RunDir,
    db_url: str,
    grids: tuple[tuple[str, str, Decimal], ...] = (("alpha", "BTC/USDT", Decimal("1000")),),
    **overrides: Any,
) -> RunConfig:
    """A dry-run RunConfig over the paper markets; ``grids`` are (name, symbol, budget)."""
    specs = tuple(
        GridSpec(name=name, grid_id=name, symbol=symbol, config={}, budget_quote=budget)
        for name, symbol, budget in grids
    )
    fields: dict[str, Any] = {
        "run_dir": str(run_dir.path),
        "exchange_id": "paper",
        "mode": Mode.DRY_RUN,
        "db_url": db_url,
        "markets": paper_markets(),
        "grids": specs,
        "paper_balances": {"USDT": Decimal("10000"), "BTC": Decimal("1"), "ETH": Decimal("10")},
        "state_timeout_s": 1.0,
    }
    fields.update(overrides)
    return RunConfig(**fields)


class Child:
    """One started actor process."""

    def __init__(self, name: str, proc: Any) -> None:
        self.name, self.proc = name, proc

    @property
    def pid(self) -> int:
        return int(self.proc.pid)

    def alive(self) -> bool:
        return bool(self.proc.is_alive())


class ActorHost:
    """The control-channel half of a supervisor, for tests (see the module docstring).

    Not restarting anything by itself: a test decides when an actor comes back
    (:meth:`start` again after :meth:`kill`).
    """

    def __init__(self, base: Path, start_method: str = "forkserver") -> None:
        self.run_dir = RunDir.create(base)
        self.mp = make_context(start_method)
        self.ctx = zmq.Context()
        self.report = self.ctx.socket(zmq.PULL)
        self.report.bind(self.run_dir.endpoint(REPORT))
        self.command = self.ctx.socket(zmq.PUB)
        self.command.setsockopt(zmq.LINGER, 0)
        self.command.bind(self.run_dir.endpoint(COMMAND))
        self.children: dict[str, Child] = {}
        self.ready: dict[str, int] = {}  # name -> pid of the last Ready
        # name -> (pid, last heartbeat status): a status is the current incarnation's only
        # (a restarted actor's predecessor may still have beats queued, or its last one
        # kept, which a test waiting for the new one's status must not read).
        self.statuses: dict[str, tuple[int, dict[str, Any]]] = {}
        self.failures: list[Failed] = []
        # Cleared: the supervisor's beat stops, as if it had crashed (actors orphan).
        self.beating = threading.Event()
        self.beating.set()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._pump, daemon=True, name="actor-host")
        self._thread.start()

    def start(
        self,
        name: str,
        target: str,
        *args: Any,
        kind: str = "test",
        ready_timeout: float = 20.0,
        supervisor_timeout: float = 10.0,
        **kwargs: Any,
    ) -> Child:
        """Start ``target`` (``module:callable``) as actor ``name``; wait for its Ready.

        Raises:
            pytest.fail: it did not report Ready in time.
        """
        info = RuntimeInfo(
            name=name,
            kind=kind,
            run_dir=str(self.run_dir.path),
            heartbeat_interval=0.2,
            supervisor_timeout=supervisor_timeout,
        )
        launch = Launch(
            info,
            target,
            args,
            kwargs,
            log_level=os.environ.get("GRIDSUP_TEST_LOG_LEVEL", "WARNING"),
        )
        proc = self.mp.Process(target=child_main, args=(launch,), name=name)
        proc.start()
        child = Child(name, proc)
        self.children[name] = child
        eventually(
            lambda: self.ready.get(name) == child.pid or not child.alive(),
            timeout=ready_timeout,
            message=f"{name} Ready",
        )
        if self.ready.get(name) != child.pid:
            pytest.fail(f"actor {name} exited with {proc.exitcode} before Ready")
        return child

    def status(self, name: str) -> dict[str, Any]:
        """The status fields of the last heartbeat of ``name``'s current process ({}
        before its first)."""
        child = self.children.get(name)
        with self._lock:
            pid, status = self.statuses.get(name, (0, {}))
        return dict(status) if child is not None and pid == child.pid else {}

    def kill(self, name: str) -> int | None:
        """``kill -9`` the actor and reap it; its exit code (-9)."""
        child = self.children.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, signal.SIGKILL)
        child.proc.join(10)
        with self._lock:
            self.ready.pop(name, None)
            self.statuses.pop(name, None)
        return child.proc.exitcode

    def stop(self, name: str, timeout: float = 10.0, cancel_orders: bool = False) -> int | None:
        """Stop the actor cleanly (a Stop command); SIGKILL if it does not exit in time."""
        child = self.children.pop(name)
        stop = COMMAND_CODEC.encode(Stop(cancel_orders=cancel_orders))
        with self._lock:
            self.command.send_multipart([command_topic(name), stop])
        child.proc.join(timeout)
        if child.alive():
            os.kill(child.pid, signal.SIGKILL)
            child.proc.join(5)
        with self._lock:
            self.ready.pop(name, None)
        return child.proc.exitcode

    def close(self) -> None:
        for name in reversed(list(self.children)):
            self.stop(name)
        self._closing.set()
        self._thread.join(5)
        self.report.close(0)
        self.command.close(0)
        self.ctx.term()
        self.run_dir.remove()

    def _pump(self) -> None:
        beat = COMMAND_CODEC.encode(Heartbeat(actor="supervisor", pid=os.getpid()))
        poller = zmq.Poller()
        poller.register(self.report, zmq.POLLIN)
        next_beat = 0.0
        while not self._closing.is_set():
            now = time.monotonic()
            if now >= next_beat and self.beating.is_set():
                with self._lock:
                    self.command.send_multipart([BROADCAST_TOPIC, beat])
                next_beat = now + 0.2
            if not poller.poll(50):
                continue
            while True:
                try:
                    frame = self.report.recv(zmq.NOBLOCK)
                except zmq.Again:
                    break
                message = REPORT_CODEC.decode(frame)
                with self._lock:
                    match message:
                        case Ready(actor=actor, pid=pid):
                            self.ready[actor] = pid
                        case Heartbeat(actor=actor, pid=pid, status=status):
                            self.statuses[actor] = (pid, dict(status))
                        case Failed():
                            self.failures.append(message)


class Client:
    """A test-side DEALER: send a request, wait for the reply with that request_id."""

    def __init__(self, ctx: zmq.Context[Any], endpoint: str, send: Codec[Any], recv: Codec[Any]):
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)
        self.send_codec, self.recv_codec = send, recv
        self.pending: dict[str, Any] = {}

    def send(self, message: Any) -> None:
        self.sock.send(self.send_codec.encode(message))

    def reply(self, request_id: str, timeout: float = 10.0) -> Any:
        """The reply to ``request_id`` (others that arrive meanwhile are kept).

        Raises:
            pytest.fail: no reply in ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while request_id not in self.pending:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sock.poll(int(left * 1000)):
                pytest.fail(f"no reply to {request_id} within {timeout}s")
            message = self.recv_codec.decode(self.sock.recv())
            self.pending[message.request_id] = message
        return self.pending.pop(request_id)

    def request(self, message: Any, timeout: float = 10.0) -> Any:
        self.send(message)
        return self.reply(message.request_id, timeout)

    def close(self) -> None:
        self.sock.close(0)


class Subscriber:
    """A test-side SUB socket collecting (topic, message) pairs."""

    def __init__(
        self, ctx: zmq.Context[Any], endpoint: str, codec: Codec[Any], topics: tuple[bytes, ...]
    ):
        self.sock = ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        for t in topics or (b"",):
            self.sock.setsockopt(zmq.SUBSCRIBE, t)
        self.sock.connect(endpoint)
        self.codec = codec
        self.received: list[Any] = []

    def drain(self) -> list[Any]:
        """Everything received so far (also kept in ``received``)."""
        while True:
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return self.received
            self.received.append(self.codec.decode(frames[-1]))

    def close(self) -> None:
        self.sock.close(0)


def serve_router(
    router: zmq.Socket[bytes],
    closing: threading.Event,
    due: Callable[[], Iterable[Callable[[], object]]],
    handle: Callable[[bytes, bytes], None],
) -> None:
    """The thread of a fake peer (a test playing an actor's ROUTER end): until
    ``closing``, run what ``due()`` says is due (held answers, queued publishes), then
    hand every request waiting on ``router`` to ``handle(identity, frame)``."""
    poller = zmq.Poller()
    poller.register(router, zmq.POLLIN)
    while not closing.is_set():
        for work in due():
            work()
        if not poller.poll(10):
            continue
        while True:
            try:
                identity, frame = router.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            handle(identity, frame)


def new_id() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def run_base() -> Iterator[Path]:
    """A short private directory (ipc:// paths must stay under 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="gs-", dir="/tmp"))
    path.chmod(0o700)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def actor_host(run_base: Path) -> Iterator[ActorHost]:
    host = ActorHost(run_base / "base")
    try:
        yield host
    finally:
        host.close()


@pytest.fixture
def zctx() -> Iterator[zmq.Context[Any]]:
    ctx: zmq.Context[Any] = zmq.Context()
    try:
        yield ctx
    finally:
        ctx.destroy(linger=0)


def postgres_problem() -> str | None:
    """Why the test PostgreSQL cannot be used (None when it can)."""
    import asyncio

    import asyncpg

    async def probe() -> None:
        conn = await asyncpg.connect(PG_URL.replace("+asyncpg", ""), timeout=5)
        await conn.close()

    try:
        asyncio.run(probe())
    except Exception as exc:
        return f"PostgreSQL not reachable at {PG_URL}: {exc!r}"
    return None


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh, empty PostgreSQL schema (dropped afterwards); skips without a server
    (fails under CI)."""
    import asyncio

    import asyncpg

    if (problem := postgres_problem()) is not None:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    dsn = PG_URL.replace("+asyncpg", "")

    async def execute(sql: str) -> None:
        conn = await asyncpg.connect(dsn, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(execute(f"CREATE SCHEMA {schema}"))
    try:
        yield schema
    finally:
        asyncio.run(execute(f"DROP SCHEMA {schema} CASCADE"))


class Loopback:
    """The loopback Binance exchange as a subprocess (real HTTP on 127.0.0.1)."""

    def __init__(self, *args: str) -> None:
        env = {
            **os.environ,
            "LOOPBACK_API_KEY": os.environ[LIVE_KEY_ENV],
            "LOOPBACK_API_SECRET": os.environ[LIVE_SECRET_ENV],
        }
        self._process = ExitStack()
        self.url = self._process.enter_context(loopback_process(*args, env=env))

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        import json
        import urllib.request

        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read() or b"null")

    def set_price(self, symbol: str, price: str) -> Any:
        return self.admin("POST", "/admin/price", {"symbol": symbol, "price": price})

    def orders_by_client_id(self) -> dict[str, list[str]]:
        return dict(self.admin("GET", "/admin/orders")["by_client_id"])

    def close(self) -> None:
        self._process.close()


@pytest.fixture(scope="module")
def loopback() -> Iterator[Loopback]:
    """One loopback exchange per module (starting one costs a second or two): tests that
    share it use grids of their own, whose orders are foreign to each other."""
    server = Loopback("--price", "BTC/USDT=42000", "--balance", "USDT=10000", "--balance", "BTC=1")
    try:
        yield server
    finally:
        server.close()


def live_overrides(loopback: Loopback, **overrides: Any) -> dict[str, Any]:
    """RunConfig fields for the live path against ``loopback`` (ccxt ``binance``)."""
    from gridsup.exchange.loopback.server import binance_url_overrides

    fields: dict[str, Any] = {
        "exchange_id": "binance",
        "mode": Mode.LIVE,
        "api_key_env": LIVE_KEY_ENV,
        "api_secret_env": LIVE_SECRET_ENV,
        "url_overrides": binance_url_overrides(loopback.url),
        "markets": {BTC_USDT.symbol: BTC_USDT},
        "poll_interval_ms": 100,
    }
    fields.update(overrides)
    return fields
