"""The live prices the dashboard draws when no candles are cached: a SUB to the
market-data actor's PUB, every symbol, kept per symbol in a bounded buffer.

Bounded twice (invariant 8): at most one point per :data:`MIN_GAP_MS` of market time is
kept, and at most :data:`MAX_POINTS` per symbol; the latest price is always current.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from decimal import Decimal

import msgspec
import structlog
import zmq
import zmq.asyncio

from gridsup.messages.market import MARKET_CODEC, Tick

log = structlog.get_logger("gridsup.web")

MARKET = "market"  # the market-data actor's PUB endpoint (gridsup.actors.run_config.MARKET)
MAX_POINTS = 3000
MIN_GAP_MS = 250


class TickBuffer:
    """Symbol -> recent (ms, price) points and the latest price."""

    def __init__(self, max_points: int = MAX_POINTS, min_gap_ms: int = MIN_GAP_MS) -> None:
        self.max_points = max_points
        self.min_gap_ms = min_gap_ms
        self.points: dict[str, deque[tuple[int, float]]] = {}
        self.latest: dict[str, Decimal] = {}
        self.latest_ts: dict[str, int] = {}
        self.received = 0

    def add(self, tick: Tick) -> None:
        self.received += 1
        self.latest[tick.symbol] = tick.last
        self.latest_ts[tick.symbol] = tick.timestamp
        points = self.points.get(tick.symbol)
        if points is None:
            points = self.points[tick.symbol] = deque(maxlen=self.max_points)
        if points and tick.timestamp - points[-1][0] < self.min_gap_ms:
            return
        points.append((tick.timestamp, float(tick.last)))

    def series(self, symbol: str) -> list[tuple[int, float]]:
        return list(self.points.get(symbol, ()))

    async def follow(self, ctx: zmq.asyncio.Context, endpoint: str) -> None:
        """Receive ticks until cancelled (reconnects on its own: ZeroMQ)."""
        sock = ctx.socket(zmq.SUB)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVHWM, 1000)
        sock.setsockopt(zmq.SUBSCRIBE, b"")
        sock.connect(endpoint)
        decode = MARKET_CODEC.decode
        try:
            while True:
                frames = await sock.recv_multipart()
                try:
                    message = decode(frames[-1])
                except msgspec.DecodeError as exc:
                    log.warning("frame_dropped", socket="web_market", error=str(exc))
                    continue
                self.add(message)
        finally:
            with contextlib.suppress(zmq.ZMQError):
                sock.close(linger=0)


def spawn_follower(
    buffer: TickBuffer, ctx: zmq.asyncio.Context, endpoint: str
) -> asyncio.Task[None]:
    return asyncio.get_running_loop().create_task(buffer.follow(ctx, endpoint))
