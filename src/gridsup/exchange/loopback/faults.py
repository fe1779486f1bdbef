"""Fault injection for the loopback exchange: what to do to the next N matching requests.

Faults are a tagged msgspec union posted as JSON to ``POST /admin/faults``, e.g.
``{"kind": "rate_limit", "count": 2, "path": "/api/v3/order", "retry_after": 1}``.
A request takes the first pending fault whose ``method``/``path`` match it (None
matches anything) and uses up one of its ``count``.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = [
    "Banned",
    "Canned",
    "Fault",
    "FaultQueue",
    "Latency",
    "RateLimit",
    "ResponseLost",
    "ServerError",
    "TimestampError",
    "decode_faults",
]


class _Base(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind"):
    count: int = 1
    method: str | None = None  # GET, POST, DELETE; None = any
    path: str | None = None  # exact path, e.g. /api/v3/order; None = any (admin never)


class RateLimit(_Base, frozen=True, tag="rate_limit"):
    """HTTP 429 with Retry-After (Binance -1003); the request is not executed."""

    retry_after: int = 1


class Banned(_Base, frozen=True, tag="banned"):
    """HTTP 418 with Retry-After: the IP is banned for a while; not executed."""

    retry_after: int = 1


class ServerError(_Base, frozen=True, tag="server_error"):
    """HTTP 5xx without executing the request."""

    status: int = 503


class Latency(_Base, frozen=True, tag="latency"):
    """Wait ``delay`` seconds, then serve the request normally."""

    delay: float = 0.5


class TimestampError(_Base, frozen=True, tag="timestamp"):
    """Binance -1021 (timestamp outside recvWindow); not executed."""


class ResponseLost(_Base, frozen=True, tag="response_lost"):
    """Execute the request (the order is placed), then lose the answer: drop the
    connection, or with ``hang`` seconds > 0 answer only after that long (a client
    timeout)."""

    hang: float = 0.0


class Canned(_Base, frozen=True, tag="canned"):
    """Answer with this status and JSON body instead of executing the request (to
    replay recorded exchange responses through the real client)."""

    status: int = 200
    body: Any = None


Fault = RateLimit | Banned | ServerError | Latency | TimestampError | ResponseLost | Canned

_decoder = msgspec.json.Decoder(Fault | list[Fault])


def decode_faults(body: bytes) -> list[Fault]:
    """One fault or a list of them from JSON.

    Raises:
        msgspec.ValidationError: names the bad field.
    """
    decoded = _decoder.decode(body)
    faults = decoded if isinstance(decoded, list) else [decoded]
    for fault in faults:
        if fault.count < 1:
            raise msgspec.ValidationError(f"count must be >= 1, got {fault.count} - at `$.count`")
    return faults


class _Pending(msgspec.Struct):
    fault: Fault
    left: int


class FaultQueue:
    """Pending faults, first added first used."""

    def __init__(self) -> None:
        self._pending: list[_Pending] = []

    def add(self, faults: list[Fault]) -> None:
        self._pending.extend(_Pending(f, f.count) for f in faults)

    def clear(self) -> None:
        self._pending.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The fault for this request (one use of it), or None."""
        for pending in self._pending:
            fault = pending.fault
            if fault.method is not None and fault.method.upper() != method.upper():
                continue
            if fault.path is not None and fault.path != path:
                continue
            pending.left -= 1
            if pending.left <= 0:
                self._pending.remove(pending)
            return fault
        return None

    def pending(self) -> list[dict[str, object]]:
        """What is still queued, with the uses left (for ``GET /admin/faults``)."""
        return [{**msgspec.to_builtins(p.fault), "left": p.left} for p in self._pending]
