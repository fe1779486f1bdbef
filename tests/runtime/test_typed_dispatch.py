"""A socket's handler is checked against its channel's union by mypy: one that takes
only some message kinds, or that is ``async``, does not type-check, and a handler whose
``match`` misses a kind fails at its ``assert_never``. Each snippet is checked by mypy's
API against this checkout's ``src`` (about two seconds, no cache)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api")

SRC = Path(__file__).resolve().parents[2] / "src"

HEADER = """\
from collections.abc import Sequence
from typing import assert_never
from gridsup.messages.orders import (
    ORDER_REQUEST_CODEC, CancelOrder, OrderRequest, PlaceOrder, QueryOrders,
)
from gridsup.runtime.sockets import Receiver, SocketSpec, SocketType
"""
# As an actor declares its sockets (the return type must not decide what is accepted).
FOOTER = """
def sockets() -> Sequence[SocketSpec]:
    return (
        SocketSpec(
            "orders", SocketType.ROUTER, "ipc://x", recv=Receiver(ORDER_REQUEST_CODEC, handler)
        ),
    )
"""

# (what the snippet declares, the error mypy must report, or None for none)
CASES = [
    (
        """
        def handler(message: OrderRequest, envelope: list[bytes]) -> None:
            match message:
                case PlaceOrder() | CancelOrder() | QueryOrders():
                    pass
                case _:
                    assert_never(message)
        """,
        None,
    ),
    (
        """
        def handler(message: PlaceOrder, envelope: list[bytes]) -> None: ...
        """,
        'Argument 2 to "Receiver" has incompatible type "Callable[[PlaceOrder, list[bytes]]',
    ),
    (
        """
        async def handler(message: OrderRequest, envelope: list[bytes]) -> None: ...
        """,
        'Argument 2 to "Receiver" has incompatible type',
    ),
    (
        """
        def handler(message: OrderRequest, envelope: list[bytes]) -> None:
            match message:
                case PlaceOrder() | CancelOrder():
                    pass
                case _:
                    assert_never(message)
        """,
        'Argument 1 to "assert_never" has incompatible type "QueryOrders"',
    ),
]


@pytest.mark.parametrize(("body", "error"), CASES, ids=["whole", "part", "async", "unmatched"])
def test_mypy_checks_a_sockets_handler_against_its_channels_union(
    tmp_path: Path, body: str, error: str | None
) -> None:
    snippet = tmp_path / "snippet.py"
    snippet.write_text(HEADER + textwrap.dedent(body) + FOOTER)
    config = tmp_path / "mypy.ini"
    config.write_text(f"[mypy]\nmypy_path = {SRC}\nignore_missing_imports = True\n")

    out, err, status = mypy_api.run(
        [
            f"--config-file={config}",
            "--no-incremental",
            f"--cache-dir={tmp_path / 'cache'}",
            "--follow-imports=silent",
            "--python-version=3.11",
            str(snippet),
        ]
    )

    if error is None:
        assert status == 0, out + err
    else:
        assert status == 1, out + err
        assert error in out
        assert out.count(": error:") == 1, out
