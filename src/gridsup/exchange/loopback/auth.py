"""Binance's request security for SIGNED endpoints: the ``X-MBX-APIKEY`` header, an
HMAC-SHA256 ``signature`` of the query string followed by the body, and a
``timestamp`` within ``recvWindow`` of the server's clock; and the same for a signed
WebSocket API request, whose ``signature`` covers its other params, sorted and
url-encoded."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from gridsup.exchange.loopback.wire import BinanceError

__all__ = ["DEFAULT_RECV_WINDOW", "verify_signed", "verify_ws_signed"]

DEFAULT_RECV_WINDOW = 5000
MAX_RECV_WINDOW = 60000
# Binance refuses a timestamp more than 1 s ahead of its own clock.
MAX_AHEAD_MS = 1000


def _strip_signature(raw: str) -> tuple[str, str | None]:
    """``raw`` without its ``signature=`` parameter, and that signature."""
    kept: list[str] = []
    signature: str | None = None
    for part in raw.split("&") if raw else []:
        if part.startswith("signature="):
            signature = part[len("signature=") :]
        else:
            kept.append(part)
    return "&".join(kept), signature


def verify_signed(
    headers: Mapping[str, str],
    query: str,
    body: str,
    keys: Mapping[str, str],
    now_ms: int,
) -> dict[str, str]:
    """Check a SIGNED request; return its parameters (query and body merged).

    Raises:
        BinanceError: -2014 no/bad key header, -2015 unknown key, -1102 timestamp or
            signature missing, -1021 timestamp outside recvWindow, -1022 bad signature.
    """
    api_key = headers.get("X-MBX-APIKEY")
    if not api_key:
        raise BinanceError(401, -2014, "API-key format invalid.")
    secret = keys.get(api_key)
    if secret is None:
        raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")
    query_unsigned, query_signature = _strip_signature(query)
    body_unsigned, body_signature = _strip_signature(body)
    signature = query_signature or body_signature
    params = dict(parse_qsl(query_unsigned, keep_blank_values=True))
    params.update(parse_qsl(body_unsigned, keep_blank_values=True))
    if "timestamp" not in params or not params["timestamp"].isdigit():
        raise BinanceError(
            400,
            -1102,
            "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.",
        )
    if not signature:
        raise BinanceError(
            400,
            -1102,
            "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
        )
    # totalParams = query string + request body, exactly as sent (Binance's definition).
    expected = hmac.new(
        secret.encode(), (query_unsigned + body_unsigned).encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        raise BinanceError(400, -1022, "Signature for this request is not valid.")
    timestamp = int(params["timestamp"])
    recv_window = params.get("recvWindow", str(DEFAULT_RECV_WINDOW))
    if not recv_window.isdigit() or int(recv_window) > MAX_RECV_WINDOW:
        raise BinanceError(400, -1131, "recvWindow must be less than 60000")
    if timestamp > now_ms + MAX_AHEAD_MS:
        raise BinanceError(
            400, -1021, "Timestamp for this request was 1000ms ahead of the server's time."
        )
    if now_ms - timestamp > int(recv_window):
        raise BinanceError(400, -1021, "Timestamp for this request is outside of the recvWindow.")
    return params


def verify_ws_signed(params: Mapping[str, Any], keys: Mapping[str, str], now_ms: int) -> None:
    """Check a signed WebSocket API request's ``apiKey``, ``signature`` and ``timestamp``.

    Raises:
        BinanceError: -2015 unknown key, -1022 bad signature, -1021 timestamp outside
            recvWindow.
    """
    secret = keys.get(str(params.get("apiKey", "")))
    if secret is None:
        raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")
    signature = str(params.get("signature", ""))
    unsigned = {k: v for k, v in sorted(params.items()) if k != "signature"}
    payload = urlencode({k: _text(v) for k, v in unsigned.items()})
    expected = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        raise BinanceError(400, -1022, "Signature for this request is not valid.")
    timestamp = int(params.get("timestamp", 0))
    window = int(params.get("recvWindow", DEFAULT_RECV_WINDOW))
    if timestamp > now_ms + MAX_AHEAD_MS or now_ms - timestamp > window:
        raise BinanceError(400, -1021, "Timestamp for this request is outside of the recvWindow.")


def _text(value: Any) -> str:
    """A param as the client signed it (JSON booleans as ``true``/``false``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
