"""configure_logging: secrets never rendered; stdlib records carry the bound context."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog

from gridsup.logging import configure_logging


@pytest.fixture
def out() -> io.StringIO:
    stream = io.StringIO()
    configure_logging("INFO", json=True, stream=stream)
    yield stream
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()


def _events(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


@pytest.mark.parametrize("key", ["api_key", "secret", "password", "api_secret"])
def test_secret_values_are_never_rendered(out: io.StringIO, key: str) -> None:
    structlog.get_logger().info("exchange_connected", **{key: "s3cr3t-value"})

    text = out.getvalue()
    assert "s3cr3t-value" not in text
    assert _events(out)[0][key] == "***"


def test_stdlib_records_carry_level_time_and_bound_context(out: io.StringIO) -> None:
    structlog.contextvars.bind_contextvars(grid="btc")

    logging.getLogger("gridsup.strategy.grid").warning("grid_config_changed")

    (event,) = _events(out)
    assert event["event"] == "grid_config_changed"
    assert event["level"] == "warning"
    assert event["grid"] == "btc"
    assert "timestamp" in event


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging("LOUD")
