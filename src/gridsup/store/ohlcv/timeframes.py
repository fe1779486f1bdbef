"""Timeframe strings ("1m", "4h", "1d") as milliseconds, the way ccxt spells them."""

from __future__ import annotations

import re

_UNITS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_PATTERN = re.compile(r"^([1-9][0-9]*)([smhdw])$")


def timeframe_ms(timeframe: str) -> int:
    """Length of one candle in ms.

    Raises:
        ValueError: not a fixed-length timeframe (months vary, so "1M" is refused).
    """
    match = _PATTERN.match(timeframe)
    if match is None:
        raise ValueError(
            f"unsupported timeframe {timeframe!r}: use a number and one of s, m, h, d, w"
        )
    return int(match.group(1)) * _UNITS[match.group(2)]
