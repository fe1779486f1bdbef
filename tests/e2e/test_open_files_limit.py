"""`gridsup start` checks the open-files limit (``ulimit -n``) against what its grids
need: it raises the soft limit up to the hard one by itself, and refuses to start (exit
2, saying what to raise) when even the hard limit is too low. The refusal is proven with
a real `gridsup start` in a subprocess whose limits are lowered before it runs."""

from __future__ import annotations

import resource
import subprocess
import sys

import pytest
from e2e_support import FAST_GRIDS, GRIDSUP, GridsEnv, grids_toml

from gridsup.app import StartRefused
from gridsup.commands.preflight_limits import check_file_limit, files_needed

GRIDS = 40
NEED = files_needed(GRIDS)
INF = resource.RLIM_INFINITY


def many_grids(count: int) -> str:
    return grids_toml([{**FAST_GRIDS[0], "name": f"g{i:03d}"} for i in range(count)])


def lowered(soft: int, hard: int) -> object:
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_start_under_a_too_low_hard_limit_exits_2_saying_what_to_raise(env: GridsEnv) -> None:
    path = env.write(many_grids(GRIDS))

    done = subprocess.run(
        [*GRIDSUP, "start", "--strategies", str(path)],
        capture_output=True,
        text=True,
        env=env.environ,
        timeout=60,
        check=False,
        preexec_fn=lowered(256, 256),  # type: ignore[arg-type]
    )

    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "ulimit -n) is 256 (hard limit 256)" in done.stderr
    assert f"{GRIDS} grids need at least {NEED}" in done.stderr
    assert f"LimitNOFILE={NEED}" in done.stderr


def test_a_low_soft_limit_is_raised_up_to_the_hard_one() -> None:
    """In a subprocess started with a soft limit of 256 (its hard limit as it was)."""
    code = (
        "import resource; from gridsup.commands.preflight_limits import check_file_limit;"
        f"check_file_limit({GRIDS}); print(resource.getrlimit(resource.RLIMIT_NOFILE)[0])"
    )
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != INF and hard < NEED:
        pytest.skip(f"this machine's hard limit {hard} is below {NEED}")

    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        preexec_fn=lowered(256, hard),  # type: ignore[arg-type]
    )

    assert int(done.stdout.split()[-1]) == NEED


@pytest.mark.parametrize(
    ("limits", "outcome", "set_to"),
    [
        ((NEED, NEED), NEED, None),  # enough: left alone
        ((INF, INF), INF, None),
        ((100, INF), NEED, (NEED, INF)),  # raised
        ((100, NEED + 1), NEED, (NEED, NEED + 1)),
        ((100, NEED - 1), None, None),  # refused: the hard limit is too low
    ],
)
def test_the_check_raises_the_soft_limit_only_as_far_as_the_hard_one_allows(
    limits: tuple[int, int], outcome: int | None, set_to: tuple[int, int] | None
) -> None:
    calls: list[tuple[int, int]] = []

    def check() -> int:
        return check_file_limit(GRIDS, get=lambda: limits, set_=calls.append)

    if outcome is None:
        with pytest.raises(StartRefused) as refused:
            check()
        assert refused.value.code == 2 and f"need at least {NEED}" in str(refused.value)
    else:
        assert check() == outcome
    assert calls == ([] if set_to is None else [set_to])
