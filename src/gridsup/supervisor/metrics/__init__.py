"""Prometheus metrics of a running supervisor: a custom collector over its latest status.

Nothing is updated per heartbeat: at scrape time :class:`SupervisorCollector` reads the
supervisor's status snapshot (each child's state, restarts, heartbeat age and the flat
status of its last heartbeat) and turns it into metric families. A scrape of 100 grids
costs a few milliseconds of the supervisor's loop, every scrape interval, and nothing in
between (``bench/metrics.py``).

Names follow Prometheus conventions: ``gridsup_`` prefix, base units (seconds, bytes),
``_total`` for counters; labels are bounded: ``grid``, ``symbol``, ``actor``, ``kind``,
``exchange``, ``account`` (one per execution actor), ``asset`` and enum values
(``state``, ``outcome``, ``queue``, ``code``). The list is in docs/operations.md.

Parts: ``collector`` (the collector; the supervisor's and the processes' families),
``trading`` (the grids' and the exchange account's families), ``values`` (status values
read as numbers), ``server`` (the ``/metrics`` endpoint, a supervisor extension).
"""

from gridsup.supervisor.metrics.collector import SupervisorCollector, SupervisorSnapshot
from gridsup.supervisor.metrics.trading import RECON_OUTCOMES
from gridsup.supervisor.metrics.values import grid_state, number

__all__ = ["RECON_OUTCOMES", "SupervisorCollector", "SupervisorSnapshot", "grid_state", "number"]
