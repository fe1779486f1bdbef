"""deploy/prometheus/gridsup-alerts.yml, checked and unit-tested by Prometheus's own
promtool (Debian's ``prometheus`` package) over series taken from what the supervisor's
collector really exports: the account alerts (rate limited, banned, unreachable) fire on
the metric names and labels gridsup writes, and only on them."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import CollectorRegistry

from gridsup.messages import telemetry
from gridsup.messages.control import ActorStatus, StatusValue
from gridsup.supervisor.metrics import SupervisorCollector, SupervisorSnapshot

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "gridsup-alerts.yml"
PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not installed (Debian's prometheus package)"
)
STEPS = 12  # samples 15 s apart: three minutes


def exported(status: dict[str, StatusValue]) -> list[str]:
    """The sample lines (``name{labels} value``) the collector writes for an execution
    actor with ``status``."""
    actor = ActorStatus(name="execution", kind="execution", state="running", status=status)
    view = SupervisorSnapshot(pid=1, uptime=5.0, state="running", actors=(actor,))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SupervisorCollector(lambda: view, "binance"))
    text = generate_latest(registry).decode()
    return [line for line in text.splitlines() if line.startswith("gridsup_exchange_")]


def input_series(before: dict[str, StatusValue], after: dict[str, StatusValue]) -> list[dict]:
    """promtool input series: each exported series at its ``before`` value for the
    first two samples, then at its ``after`` value (a counter that rises, a gauge that
    changes)."""
    first = dict(line.rsplit(" ", 1) for line in exported(before))
    then = dict(line.rsplit(" ", 1) for line in exported(after))
    return [
        {"series": name, "values": " ".join([first.get(name, value)] * 2 + [value] * STEPS)}
        for name, value in then.items()
    ]


def promtool_test(tmp_path: Path, series: list[dict], expect: dict[str, list[dict]]) -> None:
    tests = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "15s",
        "tests": [
            {
                "interval": "15s",
                "input_series": series,
                "alert_rule_test": [
                    {"eval_time": "2m", "alertname": name, "exp_alerts": alerts}
                    for name, alerts in expect.items()
                ],
            }
        ],
    }
    path = tmp_path / "rules_test.yml"
    path.write_text(json.dumps(tests))  # JSON is YAML
    assert PROMTOOL is not None
    done = subprocess.run(
        [PROMTOOL, "test", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


ACCOUNT = {"exchange": "binance", "account": "BINANCE_KEY"}
QUIET: dict[str, StatusValue] = {
    telemetry.ACCOUNT: "BINANCE_KEY",
    telemetry.HTTP_429: 0,
    telemetry.HTTP_418: 0,
    telemetry.EXCHANGE_REACHABLE: True,
    telemetry.BANNED_UNTIL_MS: 0,
    telemetry.WEIGHT_USED: 100,
    telemetry.WEIGHT_LIMIT: 6000,
}


def test_the_rules_pass_promtools_check() -> None:
    assert PROMTOOL is not None
    done = subprocess.run(
        [PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def alert(severity: str, summary: str, **labels: str) -> dict[str, dict[str, str]]:
    """One expected alert (promtool compares labels and annotations)."""
    return {
        "exp_labels": {**ACCOUNT, "severity": severity, **labels},
        "exp_annotations": {"summary": summary},
    }


def test_a_429_alerts_rate_limited_and_not_banned(tmp_path: Path) -> None:
    after = {**QUIET, telemetry.HTTP_429: 1}
    limited = "binance (BINANCE_KEY) answered HTTP 429: rate limited"
    promtool_test(
        tmp_path,
        input_series(QUIET, after),
        {
            "GridsupRateLimited": [alert("warning", limited, code="429")],
            "GridsupBanned": [],
            "GridsupExchangeUnreachable": [],
        },
    )


def test_a_418_alerts_banned_and_requests_without_answers_unreachable(tmp_path: Path) -> None:
    # promtool's clock starts at 0: a ban ending at 10 min is a ban in force at 2 min.
    after = {
        **QUIET,
        telemetry.HTTP_418: 1,
        telemetry.BANNED_UNTIL_MS: 600_000,
        telemetry.EXCHANGE_REACHABLE: False,
    }
    banned = "binance (BINANCE_KEY) banned the IP (HTTP 418)"
    unreachable = "binance (BINANCE_KEY) does not answer the account's requests"
    promtool_test(
        tmp_path,
        input_series(QUIET, after),
        {
            "GridsupRateLimited": [],
            # Once by the counter's rise, once by the ban in force: either says it.
            "GridsupBanned": [
                alert("critical", banned, code="418"),
                alert("critical", banned),
            ],
            "GridsupExchangeUnreachable": [alert("critical", unreachable)],
        },
    )
