"""Imported last by the forkserver, after the preload: make forked actors cheap.

Two things every actor forked from the server would otherwise pay for in memory:

- The collector would walk, and so write to and copy, every object the preload built
  (a full collection in the child touches every page it shares with the server and its
  siblings). ``gc.freeze()`` moves them all to the permanent generation, out of sight.
- ``multiprocess`` re-runs the parent's main script in each child (as ``__mp_main__``)
  unless the server's ``__main__`` already names that file. An actor never needs it (its
  factory is a ``"module:callable"`` string), and a script's imports (a benchmark's
  psutil, the CLI's click) would cost every actor its own copy. The supervisor passes the
  script's path in :data:`~gridsup.runtime.entry.MAIN_PATH_ENV`; naming it here makes the
  children skip it.
"""

import gc
import os
import sys

from gridsup.runtime.entry import MAIN_PATH_ENV

_main_path = os.environ.get(MAIN_PATH_ENV)
if _main_path:
    _server_main = sys.modules["__main__"]
    if getattr(_server_main, "__file__", None) is None:
        _server_main.__file__ = _main_path

gc.collect()
gc.freeze()
