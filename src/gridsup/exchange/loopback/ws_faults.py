"""Faults of the loopback exchange's websocket streams, posted as JSON to
``POST /admin/ws-faults`` (one or a list), e.g. ``{"kind": "silence", "stream": "user",
"seconds": 5}``. ``stream`` is ``user`` (the user-data stream of the WebSocket API),
``market`` (ticker and trade streams) or ``all``.

* ``disconnect``: drop every connection of the stream now (no close frame); events
  until the client has subscribed again are lost, as on Binance.
* ``outage``: disconnect, and refuse new connections (HTTP 503) for ``seconds``
  (``-1``: until the faults are cleared): every event meanwhile is lost. A stream that
  dies for good is an outage of ``-1``.
* ``silence``: the connections stay open but carry nothing — no events (they are lost)
  and no pongs — for ``seconds`` (``-1``: until cleared): a half-open connection.
* ``expire``: the user-data subscription ends (the WebSocket API's
  ``eventStreamTerminated``; on a listenKey stream Binance's ``listenKeyExpired``): the
  connection stays open, events stop until the client subscribes again.
* ``drop``: the next ``count`` events are lost.
* ``reorder``: the next ``count`` events are held and delivered together, last first.
* ``duplicate``: the next ``count`` events are delivered twice.

The last three act on each stream kind's ``EventPipeline``, which every event passes.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import msgspec

__all__ = [
    "Disconnect",
    "Drop",
    "Duplicate",
    "EventPipeline",
    "Expire",
    "Outage",
    "Reorder",
    "Silence",
    "StreamKind",
    "WsFault",
    "decode_ws_faults",
]


class StreamKind(Enum):
    USER = "user"
    MARKET = "market"
    ALL = "all"

    def covers(self, kind: StreamKind) -> bool:
        return self is StreamKind.ALL or self is kind


class _Base(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind"):
    stream: StreamKind = StreamKind.USER


class Disconnect(_Base, frozen=True, tag="disconnect"):
    pass


class Outage(_Base, frozen=True, tag="outage"):
    seconds: float = -1


class Silence(_Base, frozen=True, tag="silence"):
    seconds: float = -1


class Expire(_Base, frozen=True, tag="expire"):
    pass


class Drop(_Base, frozen=True, tag="drop"):
    count: int = 1


class Reorder(_Base, frozen=True, tag="reorder"):
    count: int = 2


class Duplicate(_Base, frozen=True, tag="duplicate"):
    count: int = 1


WsFault = Disconnect | Outage | Silence | Expire | Drop | Reorder | Duplicate

_decoder = msgspec.json.Decoder(WsFault | list[WsFault])


def decode_ws_faults(body: bytes) -> list[WsFault]:
    """One fault or a list of them, from JSON.

    Raises:
        msgspec.ValidationError, msgspec.DecodeError: not a fault.
    """
    decoded: Any = _decoder.decode(body)
    return decoded if isinstance(decoded, list) else [decoded]


class EventPipeline:
    """The ordering faults of one stream kind, as they stand: drop, duplicate, reorder."""

    def __init__(self) -> None:
        self.drop = self.duplicate = self.reorder = 0
        self.held: list[Any] = []

    def pass_(self, item: Any) -> list[Any]:
        """What leaves now for ``item`` (nothing, it once or twice, or a held batch)."""
        if self.drop > 0:
            self.drop -= 1
            return []
        if self.reorder > 0:
            self.reorder -= 1
            self.held.append(item)
            if self.reorder > 0:
                return []
            out, self.held = list(reversed(self.held)), []
            return out
        if self.duplicate > 0:
            self.duplicate -= 1
            return [item, item]
        return [item]
