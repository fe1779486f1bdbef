"""How a message shows a value it refuses: quoted, control and look-alike characters
made visible, and cut to a readable length (a 50 KB grid name is not echoed whole).

A leaf module (no gridsup imports) so the config models, the strategy and every
command share one rule.
"""

from __future__ import annotations

from typing import Any

# Characters of a value shown before it is cut.
ECHO_LIMIT = 60


def echo_value(value: Any, limit: int = ECHO_LIMIT) -> str:
    """``value`` as a message shows it: strings quoted with non-ASCII and control
    characters escaped (``'B\\u0422C/USDT'`` shows the Cyrillic T), anything else as its
    ``str``; longer than ``limit`` characters it is cut and says how long it was.
    """
    text = ascii(value) if isinstance(value, str | bytes) else str(value)
    if len(text) <= limit:
        return text
    size = len(value) if isinstance(value, str) else len(text)
    return f"{text[:limit]}... ({size} characters)"
