"""grids.toml's ``[metrics]`` and ``[alerts]`` tables, and the metrics address rules.

Neither table holds a secret: the alert URLs (they carry tokens) come from the
environment only (``GRIDSUP_ALERT_URLS``, ``GRIDSUP_ALERT_URLS_FILE``; see
``gridsup.supervisor.alert_sender``).
"""

from __future__ import annotations

import ipaddress

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

DEFAULT_METRICS_PORT = 9108


class MetricsAddressError(ValueError):
    """An address that is not ``PORT``, ``HOST:PORT`` or ``[IPV6]:PORT``."""


def parse_metrics_address(text: str) -> tuple[str, int]:
    """``"9108"`` -> ("127.0.0.1", 9108); ``"HOST:PORT"``; ``"[::1]:9108"``.

    Raises:
        MetricsAddressError: not one of those, or a port outside 0..65535.
    """
    text = text.strip()
    if text.isdigit():
        host, port_text = "127.0.0.1", text
    elif text.startswith("["):
        host, sep, port_text = text[1:].partition("]:")
        if not sep:
            raise MetricsAddressError(f"{text!r}: want [IPV6]:PORT")
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or not host or ":" in host:
            raise MetricsAddressError(f"{text!r}: want HOST:PORT (or PORT for 127.0.0.1)")
    if not port_text.isdigit() or int(port_text) > 65535:
        raise MetricsAddressError(f"{text!r}: port must be 0..65535")
    return host, int(port_text)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (``localhost`` or a loopback address)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MetricsSettings(_Table):
    """``[metrics]``: the supervisor's Prometheus endpoint; off without an address.

    An address written here may be any interface (that is the explicit opt-in for a
    non-loopback one); ``gridsup start --metrics`` accepts loopback addresses only.
    """

    address: str | None = None

    @field_validator("address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_metrics_address(value)
            except MetricsAddressError as exc:
                raise PydanticCustomError("metrics_address", str(exc), {}) from None
        return value


class AlertSettings(_Table):
    """``[alerts]``: when to tell (the URLs, where to tell, come from the environment)."""

    window_s: float = Field(default=900.0, gt=0)  # one message per cause per window
    restarts: int = Field(default=3, ge=1)  # more restarts than this ...
    restart_period_s: float = Field(default=600.0, gt=0)  # ... within this: alert
    disk_min_free_pct: float = Field(default=5.0, ge=0, le=100)
    memory_min_free_pct: float = Field(default=5.0, ge=0, le=100)
    send_timeout_s: float = Field(default=10.0, gt=0)


def metrics_address(cli: str | None, configured: str | None) -> tuple[str, int] | None:
    """Where ``gridsup start`` serves metrics: ``--metrics`` (loopback only, unless it
    repeats the file's address), else ``[metrics] address``, else nowhere (off).

    Raises:
        MetricsAddressError: a malformed address, or a non-loopback ``--metrics`` that
            the grids file does not name.
    """
    if cli is None:
        return None if configured is None else parse_metrics_address(configured)
    host, port = parse_metrics_address(cli)
    if not is_loopback(host) and (
        configured is None or parse_metrics_address(configured) != (host, port)
    ):
        raise MetricsAddressError(
            f"--metrics {cli}: {host} is not a loopback address; to expose metrics "
            "beyond this machine, write it as [metrics] address in the grids file"
        )
    return host, port
