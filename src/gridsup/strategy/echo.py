"""How a message shows a value it refuses: quoted, control and look-alike characters
made visible, and cut to a readable length (a 50 KB grid name is not echoed whole).

A leaf module (no gridsup imports) so the config models, the grids-file loader and
every command share one rule.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

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


def grid_label(name: str) -> str:
    """A grid's name as messages show it: ``"eth"``, or escaped and cut when it is odd."""
    plain = name.isascii() and name.isprintable() and '"' not in name and len(name) <= 64
    return f'"{name}"' if plain else echo_value(name, 40)


# Error types whose message says all there is (or whose input must not be echoed).
_NO_ECHO = frozenset({"extra_forbidden", "missing", "secret_in_file"})


def field_name(part: str | int) -> str:
    """A field or key name as a message shows it: as is when it is a tame identifier,
    else quoted, escaped and cut (an unknown 50 KB key)."""
    if isinstance(part, str) and not (part.isidentifier() and part.isascii() and len(part) <= 40):
        return echo_value(part, 40)
    return str(part)


def problem_lines(where: str, error: ValidationError) -> list[str]:
    """One line per error of ``error``: ``WHERE: FIELD: MESSAGE, got VALUE``."""
    lines = []
    for item in error.errors():
        loc = ".".join(field_name(part) for part in item["loc"])
        msg = item["msg"]
        if item["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling; see docs/configuration.md)"
        elif item["type"] == "missing":
            msg = "required field is missing"
        elif item["type"] not in _NO_ECHO and loc and ", got " not in msg:
            # pydantic's own messages ("Input should be a valid decimal") do not say
            # what was given; ours end in ", got VALUE" already.
            msg = f"{msg}, got {echo_value(item.get('input'))}"
        lines.append(f"{where}: {loc}: {msg}" if loc else f"{where}: {msg}")
    return lines
