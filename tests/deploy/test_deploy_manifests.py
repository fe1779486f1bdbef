"""deploy/: the Kubernetes manifests of a cluster of members (kustomize) and the compose
files, validated offline against the schemas that `kubernetes-validate` (Kubernetes
1.37 OpenAPI, strict: an unknown field is an error) and `check-jsonschema` (the compose
spec) ship, and read for what a cluster needs: a StatefulSet of `gridsup start
--cluster` members named after their pods, spread by pod anti-affinity, probes on
`gridsup health`, secrets only from a Secret, a PodDisruptionBudget, PostgreSQL in the
in-cluster variant only.

The kustomizations use only `resources` and `labels`, which :func:`render` applies;
where `kubectl` is installed (Debian's image of this project has it) its own rendering
must equal ours, so the kustomize build operators run is the one validated."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
CLUSTER = DEPLOY / "k8s" / "cluster"
K8S_VERSION = "1.37.0"
VARIANTS = ["in-cluster", "managed-postgres"]
KUSTOMIZATION_FIELDS = {"apiVersion", "kind", "resources", "labels"}
# Environment variables that hold secrets: never a literal value in a manifest.
SECRET_ENV = {"GRIDSUP_DB_URL", "BINANCE_API_KEY", "BINANCE_API_SECRET", "GRIDSUP_ALERT_URLS"}


def render(directory: Path) -> list[dict[str, Any]]:
    """The objects ``kubectl kustomize directory`` builds, for kustomizations that use
    only ``resources`` (files or directories) and ``labels`` (added to metadata)."""
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text())
    assert set(spec) <= KUSTOMIZATION_FIELDS, f"{directory}: render() knows only those"
    objects: list[dict[str, Any]] = []
    for entry in spec.get("resources", []):
        path = directory / entry
        if path.is_dir():
            objects += render(path)
        else:
            objects += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    for label in spec.get("labels", []):
        for obj in objects:
            obj["metadata"].setdefault("labels", {}).update(label["pairs"])
    return objects


def by_kind(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_object_is_valid_kubernetes(variant: str) -> None:
    objects = render(CLUSTER / variant)

    assert objects
    for obj in objects:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


@pytest.mark.parametrize("variant", VARIANTS)
def test_our_rendering_is_kubectls(variant: str) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:  # the structure is still validated above, through render()
        return
    built = subprocess.run(
        [kubectl, "kustomize", str(CLUSTER / variant)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert by_kind(list(yaml.safe_load_all(built.stdout))) == by_kind(render(CLUSTER / variant))


def test_the_validator_refuses_a_misspelt_field() -> None:
    """The check above can fail: a field Kubernetes does not know is refused."""
    pdb = by_kind(render(CLUSTER / "managed-postgres"))[("PodDisruptionBudget", "gridsup")]
    pdb["spec"]["maxUnavailabe"] = pdb["spec"].pop("maxUnavailable")

    with pytest.raises(kubernetes_validate.ValidationError, match="maxUnavailabe"):
        kubernetes_validate.validate(pdb, K8S_VERSION, strict=True)


def test_the_members_are_a_cluster_spread_probed_and_given_secrets() -> None:
    objects = by_kind(render(CLUSTER / "in-cluster"))
    members = objects[("StatefulSet", "gridsup")]
    pod = members["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    labels = members["spec"]["template"]["metadata"]["labels"]

    assert members["spec"]["replicas"] >= 2
    assert "--cluster" in container["args"]
    env = {e["name"]: e for e in container["env"]}
    assert env["GRIDSUP_MEMBER"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    for name in SECRET_ENV:
        assert "value" not in env[name] and "secretKeyRef" in env[name]["valueFrom"], name
    spread = pod["affinity"]["podAntiAffinity"]
    terms = [
        t["podAffinityTerm"] for t in spread["preferredDuringSchedulingIgnoredDuringExecution"]
    ]
    assert {
        "topologyKey": "kubernetes.io/hostname",
        "labelSelector": {"matchLabels": labels},
    } in terms
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert "gridsup health" in " ".join(container[probe]["exec"]["command"]), probe
    budget = objects[("PodDisruptionBudget", "gridsup")]
    assert budget["spec"]["selector"]["matchLabels"] == labels
    assert budget["spec"]["maxUnavailable"] == 1
    service = objects[("Service", members["spec"]["serviceName"])]
    assert service["spec"]["clusterIP"] == "None"
    assert ("StatefulSet", "postgres") in objects
    assert ("StatefulSet", "postgres") not in by_kind(render(CLUSTER / "managed-postgres"))


@pytest.mark.parametrize("name", ["gridsup.yaml", "postgres.yaml"])
def test_the_single_supervisor_manifests_are_valid_kubernetes(name: str) -> None:
    for obj in yaml.safe_load_all((DEPLOY / "k8s" / name).read_text()):
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_the_compose_files_follow_the_compose_spec() -> None:
    files = [DEPLOY / "docker-compose.yml", DEPLOY / "docker-compose.cluster.yml"]

    checked = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec"]
        + [str(f) for f in files],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_compose_cluster_runs_two_members_on_one_database() -> None:
    services = yaml.safe_load((DEPLOY / "docker-compose.cluster.yml").read_text())["services"]
    members = {name: s for name, s in services.items() if "--cluster" in s.get("command", [])}

    assert len(members) == 2
    envs = [s["environment"] for s in members.values()]
    assert len({e["GRIDSUP_MEMBER"] for e in envs}) == 2
    assert len({e["GRIDSUP_DB_URL"] for e in envs}) == 1
    assert all(
        s["depends_on"]["postgres"]["condition"] == "service_healthy" for s in members.values()
    )


def test_the_systemd_unit_allows_the_open_files_of_a_large_fleet() -> None:
    import configparser

    from gridsup.commands.preflight_limits import files_needed

    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string((DEPLOY / "gridsup.service").read_text())
    # The distro default (1024 soft) would refuse 200 grids at the preflight.
    assert int(unit["Service"]["LimitNOFILE"]) >= files_needed(10_000)
    assert files_needed(200) > 1024
