"""Binance's listenKey user-data streams, as older ccxt clients use them for spot:
``POST /api/v3/userDataStream`` opens one (the account's live key is handed out again
and extended if it has one), ``PUT`` keeps it alive, ``DELETE`` closes it; each weighs 2
and needs the API key header only (no signature). A key lives 60 minutes from its last
keepalive; past that it is gone (``PUT``/``DELETE`` answer -1125 "This listenKey does
not exist.") and its streams (``/ws/<listenKey>``) get Binance's ``listenKeyExpired``
event and nothing after it.

The registry is kept by :class:`ListenKeys` (one per loopback exchange, on its state);
the websocket hub hears of each key that ends through ``on_ended`` and tells the key's
connections (``listenKeyExpired``; a closed key's connections are dropped). Expiry is
scriptable: ``ttl_ms`` (``POST /admin/config`` ``{"listen_key_ttl_s": 2}``) shortens
the 60 minutes, and the ``expire`` stream fault ends every key at once.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from gridsup.exchange.loopback.wire import BinanceError

__all__ = ["LISTEN_KEY_TTL_MS", "LISTEN_KEY_WEIGHT", "ListenKeys"]

LISTEN_KEY_TTL_MS = 60 * 60 * 1000  # Binance: a key without keepalive closes after 60 min
LISTEN_KEY_WEIGHT = 2  # POST, PUT and DELETE /api/v3/userDataStream
_KEY_CHARS = 60  # Binance's keys are 60 characters of letters and digits


def unknown_key() -> BinanceError:
    return BinanceError(400, -1125, "This listenKey does not exist.")


@dataclass(slots=True)
class _Key:
    api_key: str
    expires_at: int  # server clock, ms
    timer: asyncio.TimerHandle | None = None


class ListenKeys:
    """The live listenKeys of one exchange (see the module docstring). ``clock`` is the
    server's clock in ms; ``on_ended`` is told of each key that ends."""

    def __init__(self, clock: Callable[[], int], ttl_ms: int = LISTEN_KEY_TTL_MS) -> None:
        self.clock = clock
        self.ttl_ms = ttl_ms
        # Told of every key that ends: (key, True) when it expired, (key, False) when
        # it was closed by DELETE.
        self.on_ended: Callable[[str, bool], None] = lambda key, expired: None
        self._keys: dict[str, _Key] = {}
        self.created = self.kept_alive = self.expired = 0

    def live(self, key: str) -> bool:
        """Whether ``key`` is open now (an expired one is swept first)."""
        self.sweep()
        return key in self._keys

    def create(self, api_key: str) -> str:
        """The account's listenKey: its live one, extended, or a new one."""
        self.sweep()
        for key, entry in self._keys.items():
            if entry.api_key == api_key:
                self._extend(key, entry)
                return key
        key = secrets.token_hex(_KEY_CHARS // 2)
        entry = _Key(api_key=api_key, expires_at=0)
        self._keys[key] = entry
        self._extend(key, entry)
        self.created += 1
        return key

    def keepalive(self, key: str, api_key: str) -> None:
        """Extend ``key`` by the lifetime.

        Raises:
            BinanceError: -1125, no such live key for this account.
        """
        entry = self._owned(key, api_key)
        self._extend(key, entry)
        self.kept_alive += 1

    def close(self, key: str, api_key: str) -> None:
        """Close ``key`` (its streams stop; no expiry event).

        Raises:
            BinanceError: -1125, no such live key for this account.
        """
        entry = self._owned(key, api_key)
        self._drop(key, entry)
        self.on_ended(key, False)

    def expire_all(self) -> None:
        """Every key expires now (the ``expire`` stream fault)."""
        for key, entry in list(self._keys.items()):
            self._expire(key, entry)

    def sweep(self) -> None:
        """Expire every key past its lifetime."""
        now = self.clock()
        for key, entry in list(self._keys.items()):
            if entry.expires_at <= now:
                self._expire(key, entry)

    def _owned(self, key: str, api_key: str) -> _Key:
        self.sweep()
        entry = self._keys.get(key)
        if entry is None or entry.api_key != api_key:
            raise unknown_key()
        return entry

    def _extend(self, key: str, entry: _Key) -> None:
        entry.expires_at = self.clock() + self.ttl_ms
        self._arm(key, entry)

    def _arm(self, key: str, entry: _Key) -> None:
        """Expire ``key`` on time even when nobody asks (its streams hear of it)."""
        if entry.timer is not None:
            entry.timer.cancel()
            entry.timer = None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a unit test): expiry is found by the next sweep
            return
        delay_s = max(0.001, (entry.expires_at - self.clock()) / 1000)
        entry.timer = loop.call_later(delay_s, self._due, key)

    def _due(self, key: str) -> None:
        entry = self._keys.get(key)
        if entry is None:
            return
        entry.timer = None
        if entry.expires_at <= self.clock():
            self._expire(key, entry)
        else:  # the loop's clock ran ahead of the server's: not yet
            self._arm(key, entry)

    def _drop(self, key: str, entry: _Key) -> None:
        if entry.timer is not None:
            entry.timer.cancel()
        del self._keys[key]

    def _expire(self, key: str, entry: _Key) -> None:
        self._drop(key, entry)
        self.expired += 1
        self.on_ended(key, True)
