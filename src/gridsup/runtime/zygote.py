"""Imported last by the forkserver, after the preload: make forked actors cheap.

What every actor forked from the server would otherwise pay for in memory: a forked
child shares the server's pages until it writes to one, and a single write (a reference
count, a flag, a cache slot) costs it its own copy of the whole page. So the zygote does
here, once, the writes every child would make on its own:

- The collector would walk, and so write to and copy, every object the preload built
  (a full collection in the child touches every page it shares with the server and its
  siblings). ``gc.freeze()`` moves them all to the permanent generation, out of sight;
  the collector, off since :mod:`gridsup.runtime.zygote_gc` (imported first), goes
  back on for the server and its children with nothing of the preload to walk.
- The interpreter gives a class its attribute-cache version tag (a write to the class
  object) the first time an attribute is looked up on it; every class gets its tag
  here, so that the children's first look-ups find it set.
- The actors' logging (``structlog`` and the root logger, at the level and format the
  supervisor passes in :data:`~gridsup.runtime.entry.LOGGING_ENV`) is set up here;
  :func:`~gridsup.runtime.entry.set_up_logging` in the child then finds it done.
- ``multiprocess`` re-runs the parent's main script in each child (as ``__mp_main__``)
  unless the server's ``__main__`` already names that file. An actor never needs it (its
  factory is a ``"module:callable"`` string), and a script's imports (a benchmark's
  psutil, the CLI's click) would cost every actor its own copy. The supervisor passes the
  script's path in :data:`~gridsup.runtime.entry.MAIN_PATH_ENV`; naming it here makes the
  children skip it.

Together these take about half a megabyte off each strategy actor (docs/actors.md).
"""

import contextlib
import gc
import os
import sys

from gridsup.runtime.entry import LOGGING_ENV, MAIN_PATH_ENV, set_up_logging


def _tag_classes() -> None:
    """Look an attribute up on every class (``object`` and its subclasses, transitively)
    the way the interpreter does, which gives the class its attribute-cache version tag.

    ``type.__getattribute__`` is the plain look-up: no metaclass ``__getattr__`` runs.
    """
    lookup = type.__getattribute__
    stack: list[type] = [object]
    seen: set[type] = set()
    while stack:
        cls = stack.pop()
        if cls in seen:
            continue
        seen.add(cls)
        with contextlib.suppress(Exception):
            lookup(cls, "__init__")
        stack.extend(type.__subclasses__(cls))


try:
    _main_path = os.environ.get(MAIN_PATH_ENV)
    if _main_path:
        _server_main = sys.modules["__main__"]
        if getattr(_server_main, "__file__", None) is None:
            _server_main.__file__ = _main_path

    _logging = os.environ.get(LOGGING_ENV)
    if _logging:
        _level, _, _format = _logging.partition(":")
        # A bad level: the children report it themselves (the server must not die of it).
        with contextlib.suppress(ValueError):
            set_up_logging(_level, _format == "json")

    _tag_classes()
finally:  # the collector back on, whatever happened above
    gc.freeze()
    gc.enable()
