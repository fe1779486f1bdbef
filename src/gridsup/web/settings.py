"""Where the dashboard listens and how it checks who asks.

Off by default. ``gridsup start --web 127.0.0.1:8470`` (or ``[web] listen`` in
grids.toml) turns it on. A loopback address serves pages and the read-only API to anyone
on this host; any other address needs the bearer token for everything; every action (a
POST) needs the token wherever it listens. The token comes only from the environment
variable named by ``token_env`` (default ``GRIDSUP_WEB_TOKEN``), never from a file.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from gridsup.monitoring import is_loopback

DEFAULT_TOKEN_ENV = "GRIDSUP_WEB_TOKEN"
DEFAULT_PORT = 8470


class WebConfigError(ValueError):
    """A listen address that cannot work, or a token that is required and missing."""


@dataclass(frozen=True)
class WebSettings:
    host: str
    port: int
    token: str | None = None  # the secret itself: never logged, never repr'd
    token_env: str = DEFAULT_TOKEN_ENV

    def __repr__(self) -> str:
        return f"WebSettings(host={self.host!r}, port={self.port}, token_env={self.token_env!r})"

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    @property
    def token_id(self) -> str:
        """Who a request with the token is, in the audit log (not the token itself)."""
        if self.token is None:
            return "token"
        return "token:" + hashlib.sha256(self.token.encode()).hexdigest()[:8]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT`` (loopback), ``PORT`` or ``[::1]:PORT``.

    Raises:
        WebConfigError: not an address and port.
    """
    text = value.strip()
    host, port_text = "127.0.0.1", text
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or not text[end + 1 :].startswith(":"):
            raise WebConfigError(f"web: listen {value!r}: want HOST:PORT")
        host, port_text = text[1:end], text[end + 2 :]
    elif ":" in text:
        host, port_text = text.rsplit(":", 1)
        host = host or "127.0.0.1"
    try:
        port = int(port_text)
    except ValueError:
        raise WebConfigError(f"web: listen {value[:60]!r}: port must be a number") from None
    if not 0 <= port <= 65535:
        raise WebConfigError(f"web: listen {value[:60]!r}: port must be 0..65535")
    return host, port


def web_settings(
    listen: str, token_env: str = DEFAULT_TOKEN_ENV, environ: dict[str, str] | None = None
) -> WebSettings:
    """Settings for ``listen``, the token read from ``token_env``.

    Raises:
        WebConfigError: a bad address, or a non-loopback address without a token.
    """
    host, port = parse_listen(listen)
    env = os.environ if environ is None else environ
    token = env.get(token_env) or None
    settings = WebSettings(host, port, token, token_env)
    if not settings.loopback and token is None:
        raise WebConfigError(
            f"web: listen {host}:{port} is not loopback: set the bearer token in "
            f"the environment variable {token_env}"
        )
    return settings
