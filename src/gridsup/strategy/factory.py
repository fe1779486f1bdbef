"""``StrategyFactory``: strategy kinds by name, built-in and from entry points.

A kind is a class with a ``config_type`` attribute (a ``StrategyConfig`` subclass) whose
constructor takes ``(config, grid_id)``. Third-party packages add kinds through the
entry-point group ``gridsup.strategies``::

    [project.entry-points."gridsup.strategies"]
    mean_revert = "mypkg.strategy:MeanRevertStrategy"
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any, Protocol, cast

from gridsup.strategy.base import StrategyConfig
from gridsup.strategy.protocols import Strategy

ENTRY_POINT_GROUP = "gridsup.strategies"
# Built in, so that a source checkout works without installed entry-point metadata.
_BUILTIN: dict[str, str] = {"grid": "gridsup.strategy.grid:GridTradingStrategy"}

_log = logging.getLogger(__name__)


class StrategyClass(Protocol):
    """What a registered strategy kind provides."""

    config_type: type[StrategyConfig]

    def __call__(self, config: Any, grid_id: str) -> Strategy: ...


class UnknownStrategyError(LookupError):
    """No strategy kind of that name; the message lists the known ones."""


class StrategyLoadError(ImportError):
    """A registered strategy kind cannot be imported or is not a strategy class."""


class StrategyFactory:
    """Registry of strategy kinds, filled from built-ins, entry points and ``register``."""

    def __init__(self, load_entry_points: bool = True) -> None:
        self._targets: dict[str, str] = dict(_BUILTIN)
        self._classes: dict[str, StrategyClass] = {}
        if load_entry_points:
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                self._targets.setdefault(ep.name, ep.value)

    def register(self, kind: str, cls: StrategyClass | str) -> None:
        """Add (or replace) a kind: a class, or a ``"module:attribute"`` path to one."""
        if isinstance(cls, str):
            self._targets[kind] = cls
            self._classes.pop(kind, None)
        else:
            self._targets[kind] = f"{cls.__module__}:{getattr(cls, '__qualname__', kind)}"
            self._classes[kind] = cls

    @property
    def kinds(self) -> list[str]:
        return sorted(self._targets)

    def get(self, kind: str) -> StrategyClass:
        """The class registered as ``kind``.

        Raises:
            UnknownStrategyError: no such kind (the message lists the known kinds).
            StrategyLoadError: the target cannot be imported or lacks ``config_type``.
        """
        cls = self._classes.get(kind)
        if cls is not None:
            return cls
        target = self._targets.get(kind)
        if target is None:
            known = ", ".join(self.kinds) or "none"
            raise UnknownStrategyError(f"unknown strategy {kind!r}; known strategies: {known}")
        module_name, _, attr = target.partition(":")
        try:
            loaded: object = import_module(module_name)
            for part in attr.split("."):
                loaded = getattr(loaded, part)
        except (ImportError, AttributeError) as exc:
            _log.warning("strategy_load_failed kind=%s target=%s error=%r", kind, target, exc)
            raise StrategyLoadError(
                f"strategy {kind!r} ({target}) cannot be loaded: {exc}"
            ) from exc
        config_type = getattr(loaded, "config_type", None)
        if not (isinstance(config_type, type) and issubclass(config_type, StrategyConfig)):
            raise StrategyLoadError(
                f"strategy {kind!r} ({target}) has no config_type (a StrategyConfig subclass)"
            )
        cls = cast(StrategyClass, loaded)
        self._classes[kind] = cls
        return cls

    def create(
        self, kind: str, config: StrategyConfig | Mapping[str, Any], grid_id: str | None = None
    ) -> Strategy:
        """Build a strategy of ``kind`` from a config object or a raw mapping.

        Raises:
            UnknownStrategyError: no such kind.
            StrategyLoadError: the kind cannot be loaded.
            pydantic.ValidationError: ``config`` is a mapping that does not validate.
            TypeError: ``config`` is a config of another strategy kind.
        """
        cls = self.get(kind)
        if isinstance(config, StrategyConfig):
            if not isinstance(config, cls.config_type):
                raise TypeError(
                    f"strategy {kind!r} needs a {cls.config_type.__name__}, "
                    f"got {type(config).__name__}"
                )
            validated = config
        else:
            validated = cls.config_type.model_validate(dict(config))
        return cls(validated, grid_id or validated.name)


_default: StrategyFactory | None = None


def default_factory() -> StrategyFactory:
    """The process-wide factory (built-ins plus installed entry points), built once."""
    global _default
    if _default is None:
        _default = StrategyFactory()
    return _default


__all__ = [
    "ENTRY_POINT_GROUP",
    "StrategyClass",
    "StrategyFactory",
    "StrategyLoadError",
    "UnknownStrategyError",
    "default_factory",
]
