"""Is a process still there? Used by actors to notice that their supervisor died."""

from __future__ import annotations

import os


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
        return True  # exists, belongs to someone else
    try:
        # Field 3 of /proc/<pid>/stat is the state; Z = exited, not yet reaped.
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True  # no procfs: the kill probe is all we have
