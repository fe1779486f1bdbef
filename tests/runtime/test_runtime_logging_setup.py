"""An actor's logging set-up: done once per settings, so that a forkserver's children
inherit the zygote's instead of building their own."""

from __future__ import annotations

import pytest

from gridsup.runtime import entry


def test_set_up_logging_configures_once_per_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, bool]] = []
    monkeypatch.setattr(entry, "configure_logging", lambda level, json: calls.append((level, json)))
    monkeypatch.setattr(entry, "_logging", None)
    entry.set_up_logging("WARNING", False)
    entry.set_up_logging("WARNING", False)  # inherited from the zygote: nothing to do
    entry.set_up_logging("INFO", True)
    assert calls == [("WARNING", False), ("INFO", True)]


def test_a_bad_level_leaves_logging_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(entry, "_logging", None)
    with pytest.raises(ValueError):
        entry.set_up_logging("LOUD", False)
    assert entry._logging is None


def test_logging_env_names_level_and_format() -> None:
    assert entry.logging_env("INFO", False) == "INFO"
    assert entry.logging_env("DEBUG", True) == "DEBUG:json"
