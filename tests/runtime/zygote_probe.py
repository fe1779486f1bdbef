"""A supervisor script run by path, and the actor it forks: what did the child inherit?

    python zygote_probe.py EVIDENCE_DIR

The child writes one JSON line: whether it ran this script again as ``__mp_main__``
(it must not: the forkserver's zygote names the script, so ``multiprocess`` skips it),
and how many objects the forkserver froze before forking it.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
from pathlib import Path

from gridsup.runtime.actor import Actor
from gridsup.supervisor.spec import ChildSpec, Group

# Set by running this script: in the child, ``__mp_main__`` holds it only if the script
# ran again there.
IMPORTED_AS = __name__


class Probe(Actor):
    def __init__(self, evidence: str) -> None:
        super().__init__()
        self.evidence = evidence

    async def on_start(self) -> None:
        rerun = getattr(sys.modules.get("__mp_main__"), "IMPORTED_AS", None)
        found = {"script_rerun": rerun is not None, "frozen": gc.get_freeze_count()}
        (Path(self.evidence) / "probe.json").write_text(json.dumps(found))


async def _supervise(evidence: Path) -> None:
    from gridsup.supervisor.runner import Supervisor

    spec = ChildSpec(
        name="probe",
        kind="strategy",
        target="zygote_probe:Probe",
        args=(str(evidence),),
        group=Group.STRATEGY,
    )
    sup = Supervisor([spec], base=evidence / "run", start_method="forkserver")
    task = asyncio.get_running_loop().create_task(sup.run())
    while not (evidence / "probe.json").exists() and not task.done():
        await asyncio.sleep(0.05)
    if sup.supervision is not None:
        sup.supervision.stop()
    await task


if __name__ == "__main__":
    asyncio.run(_supervise(Path(sys.argv[1])))
