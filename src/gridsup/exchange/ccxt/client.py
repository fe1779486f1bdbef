"""Building the ccxt client behind ``CcxtExchange``: options, URLs, credentials from the
environment, and keeping the credentials out of every log line."""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

import ccxt.async_support as ccxt

from gridsup.exchange.ccxt.dialects import dialect_for
from gridsup.exchange.errors import AuthenticationError, ExchangeError

__all__ = [
    "RedactFilter",
    "build_client",
    "credentials_from_env",
    "error_response_headers",
    "peek_error_headers",
    "take_response_status",
]

# Headers of the last error response ccxt examined, per asyncio task: a Retry-After
# must come from the response that raised, not from whichever request of another
# task finished last (ccxt's ``last_response_headers`` is shared by all of them).
_ERROR_HEADERS: ContextVar[Mapping[str, Any] | None] = ContextVar(
    "ccxt_error_headers", default=None
)
# The HTTP status of the last response ccxt examined in this task (request metrics).
_RESPONSE_STATUS: ContextVar[int | None] = ContextVar("ccxt_response_status", default=None)


def error_response_headers() -> Mapping[str, Any] | None:
    """Headers of the response behind the ccxt error this task just caught (taken: a
    later error without a response, e.g. a timeout, does not see them again)."""
    headers = _ERROR_HEADERS.get()
    _ERROR_HEADERS.set(None)
    return headers


def peek_error_headers() -> Mapping[str, Any] | None:
    """Like :func:`error_response_headers`, without taking them (the request budget
    reads them before the error is mapped)."""
    return _ERROR_HEADERS.get()


def take_response_status() -> int | None:
    """HTTP status of the response to this task's last request (taken: None when that
    request got no answer, a timeout or a refused connection)."""
    status = _RESPONSE_STATUS.get()
    _RESPONSE_STATUS.set(None)
    return status


def _capture_error_headers(client: Any) -> None:
    """Wrap ``client.handle_errors`` (called with the status and headers of every
    response, just before ccxt raises for an HTTP error) to note them in this task's
    context."""
    original = client.handle_errors

    def handle_errors(*args: Any, **kwargs: Any) -> Any:
        headers = kwargs.get("headers", args[4] if len(args) > 4 else None)
        _ERROR_HEADERS.set(headers if isinstance(headers, Mapping) else None)
        status = kwargs.get("code", args[0] if args else None)
        _RESPONSE_STATUS.set(status if isinstance(status, int) else None)
        return original(*args, **kwargs)

    client.handle_errors = handle_errors


# Options every client gets (the caller's ``options`` win): no private currency call at
# load time, and "all open orders at once" is wanted, so ccxt's warning is acknowledged
# (the option ccxt's message names for it).
DEFAULT_OPTIONS: dict[str, Any] = {
    "fetchCurrencies": False,
    "warnOnFetchOpenOrdersWithoutSymbol": False,
    "defaultType": "spot",
}
# Per venue (spot markets only, ...) the options come from its dialect.


class RedactFilter(logging.Filter):
    """Blanks the key and secret out of ccxt's own debug log lines (it logs headers)."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if any(secret in text for secret in self.secrets):
            record.msg, record.args = self.redact(text), None
        return True


# url_overrides keys that name websocket URLs (ccxt.pro's urls['api']['ws'] entries).
WS_URL_KEYS = ("ws", "ws-api")


def build_client(
    exchange_id: str,
    *,
    api_key: str | None,
    secret: str | None,
    sandbox: bool,
    password: str | None = None,
    url_overrides: Mapping[str, str] | None,
    options: Mapping[str, Any] | None,
    timeout_ms: int,
    enable_rate_limit: bool,
    rate_limit_ms: float | None,
    pro: bool = False,
) -> Any:
    """A configured ``ccxt.async_support`` client (untyped: ccxt is); with ``pro``, the
    ``ccxt.pro`` class of the exchange (REST and the ``watch_*`` streams).

    ``url_overrides`` entries ``ws`` (spot market streams) and ``ws-api`` (the spot
    WebSocket API) go into ``urls['api']['ws']``; the others into ``urls['api']``.

    Raises:
        ExchangeError: ``exchange_id`` is not a ccxt exchange.
    """
    # ccxt.pro is loaded only by a client that streams.
    module: Any = importlib.import_module("ccxt.pro") if pro else ccxt
    klass = getattr(module, exchange_id, None)
    if exchange_id not in ccxt.exchanges or klass is None:
        raise ExchangeError(f"unknown ccxt exchange id {exchange_id!r}")
    merged: dict[str, Any] = {**DEFAULT_OPTIONS, **dialect_for(exchange_id).ccxt_options}
    merged.update(options or {})
    config: dict[str, Any] = {
        "enableRateLimit": enable_rate_limit,
        "timeout": timeout_ms,
        "options": merged,
    }
    if rate_limit_ms is not None:
        config["rateLimit"] = rate_limit_ms
    if api_key:
        config["apiKey"] = api_key
    if secret:
        config["secret"] = secret
    if password:
        config["password"] = password  # OKX's API passphrase
    client = klass(config)
    # gridsup needs no currency list: no extra (and for some venues private) request
    # at load time.
    client.has = {**client.has, "fetchCurrencies": False}
    _capture_error_headers(client)
    # ccxt supports number=str: parsed prices and amounts arrive as the exchange's text.
    client.number = str
    if sandbox:
        client.set_sandbox_mode(True)
    if url_overrides:
        rest = {k: v for k, v in url_overrides.items() if k not in WS_URL_KEYS}
        api_urls = client.urls.get("api")
        client.urls["api"] = {**(api_urls if isinstance(api_urls, dict) else {}), **rest}
        ws_urls = client.urls["api"].get("ws")
        if pro and isinstance(ws_urls, dict):
            if "ws" in url_overrides:
                ws_urls["spot"] = url_overrides["ws"]
            if "ws-api" in url_overrides and isinstance(ws_urls.get("ws-api"), dict):
                ws_urls["ws-api"]["spot"] = url_overrides["ws-api"]
    return client


def credentials_from_env(
    exchange_id: str,
    api_key_env: str | None,
    api_secret_env: str | None,
    environ: Mapping[str, str] | None = None,
    password_env: str | None = None,
) -> tuple[str | None, str | None, str | None]:
    """Key, secret and passphrase from the environment variables NAMED by the config.

    A None name gives None (a public-only client; no passphrase).

    Raises:
        AuthenticationError: a named variable is unset or empty (the message names the
            variable, never a value).
    """
    env = os.environ if environ is None else environ
    values: list[str | None] = []
    for name in (api_key_env, api_secret_env, password_env):
        value = None if name is None else env.get(name)
        if name is not None and not value:
            raise AuthenticationError(
                f"{exchange_id}: environment variable {name} is not set (API credentials)"
            )
        values.append(value)
    return values[0], values[1], values[2]
