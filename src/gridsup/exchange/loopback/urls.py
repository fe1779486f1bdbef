"""The ccxt URL overrides that point a venue's ccxt class at the loopback exchange:
Binance's REST and websocket entries, and the one base URL each of the OKX, Bybit and
Kraken dialects answers on."""

from __future__ import annotations

__all__ = ["binance_url_overrides", "url_overrides"]


def binance_url_overrides(base_url: str) -> dict[str, str]:
    """ccxt ``urls['api']`` entries that point its ``binance`` class at ``base_url``."""
    base = base_url.rstrip("/")
    ws = "ws" + base[len("http") :] if base.startswith("http") else base
    return {
        "public": f"{base}/api/v3",
        "private": f"{base}/api/v3",
        "v1": f"{base}/api/v1",
        # ccxt.pro's urls['api']['ws']: spot market streams and the WebSocket API
        "ws": f"{ws}/ws",
        "ws-api": f"{ws}/ws-api/v3",
    }


def url_overrides(exchange_id: str, base_url: str) -> dict[str, str]:
    """ccxt ``urls['api']`` entries that point ``exchange_id``'s class at the loopback.

    Raises:
        ValueError: the loopback does not speak that exchange's dialect.
    """
    base = base_url.rstrip("/")
    match exchange_id:
        case "binance":  # REST and the websocket streams (issue 15)
            return binance_url_overrides(base)
        case "okx":
            return {"rest": base}
        case "bybit" | "kraken":
            return {"public": base, "private": base}
        case _:
            raise ValueError(f"the loopback exchange does not speak {exchange_id}'s dialect")
