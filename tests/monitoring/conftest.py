from __future__ import annotations

from collections.abc import Iterator

import pytest

from alert_receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rx = Receiver()
    yield rx
    rx.close()
