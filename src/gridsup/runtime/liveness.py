"""Is a process still there? The one answer for every caller: actors noticing that their
supervisor died, ``gridsup status|stop`` trusting a supervisor's pointer file, and the
sweep of a dead supervisor's run directory."""

from __future__ import annotations

import os

# Without procfs (not Linux) the kill probe is all there is, and a zombie looks alive.
_PROCFS = os.path.isdir("/proc/self")


def process_alive(pid: int | None) -> bool:
    """Is ``pid`` a live process (neither gone nor a zombie)? ``None``: nothing to watch,
    so True. A zombie counts as dead: it has exited and only waits for its parent."""
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, belongs to someone else: procfs still tells a zombie
    try:
        # Field 3 of /proc/<pid>/stat is the state; Z = exited, not yet reaped.
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except FileNotFoundError:
        return not _PROCFS  # reaped since the probe (or no procfs at all)
    except (OSError, IndexError):
        return True  # unreadable: the kill probe said it exists
