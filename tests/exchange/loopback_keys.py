"""The loopback exchange's test key, secret and opening balances, shared by the exchange
tests (a conftest is no module to import from: another package's may answer)."""

from decimal import Decimal

API_KEY = "loopback-test-key-0123456789"
API_SECRET = "loopback-test-secret-abcdefghij"
BALANCES = {"USDT": Decimal("10000"), "BTC": Decimal("0.5"), "ETH": Decimal("2")}
