"""The loopback exchange with one ccxt client per venue dialect (OKX, Bybit, Kraken):
the real ccxt class of the venue, pointed at the loopback by its URL overrides,
signing with a key, a base64 secret (Kraken decodes it) and OKX's passphrase."""

from __future__ import annotations

import base64
from decimal import Decimal

from gridsup.exchange.ccxt.exchange import CcxtExchange
from gridsup.exchange.loopback import LoopbackServer
from gridsup.exchange.loopback.urls import url_overrides
from gridsup.exchange.retry import RetryPolicy

VENUES = ("okx", "bybit", "kraken")
KEY = "venue-test-key-0001"
SECRET = base64.b64encode(b"venue-test-secret-0123456789").decode()
PASSPHRASE = "venue-pass-1"
OPENING = {"USDT": Decimal("10000"), "BTC": Decimal("0.5")}
# ccxt's order create path per venue (where create faults are injected)
CREATE_PATH = {
    "okx": "/api/v5/trade/batch-orders",
    "bybit": "/v5/order/create",
    "kraken": "/0/private/AddOrder",
}


class NoSleep:
    """The backoff's sleep, recording the delays and waiting nothing."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def venue_client(
    venue: str, server: LoopbackServer, *, password: str = PASSPHRASE, sleep: NoSleep | None = None
) -> CcxtExchange:
    return CcxtExchange(
        venue,
        api_key=KEY,
        secret=SECRET,
        password=password,
        url_overrides=url_overrides(venue, server.url),
        rate_limit_ms=1,
        timeout_ms=1500,
        retry=RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, max_retry_after=5),
        sleep=sleep or NoSleep(),
    )
