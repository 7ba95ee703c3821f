"""docker/compose.yaml, docker/nginx.conf and deploy/k8s hold together and match the code:
every setting they pass exists and makes a valid configuration, the API replicas and the
worker share PostgreSQL and Redis, are health-checked on /readyz and /healthz, run as the
non-root user on a read-only root filesystem, and the proxy, Service and autoscaler point
at the API."""

from __future__ import annotations

import re

import pytest
import yaml

from ragsvc.core.config import Settings
from tests.support.paths import ROOT

DOCKER = ROOT / "docker"
KNOWN = {f"RAGSVC_{name.upper()}" for name in Settings.model_fields}
MANIFESTS = [
    doc
    for path in sorted((ROOT / "deploy" / "k8s").glob("*.yaml"))
    for doc in yaml.safe_load_all(path.read_text())
]
K8S = {doc["kind"]: doc for doc in MANIFESTS if doc["kind"] != "Deployment"}
DEPLOYMENTS = {doc["metadata"]["name"]: doc for doc in MANIFESTS if doc["kind"] == "Deployment"}
COMPOSE = yaml.safe_load((DOCKER / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
RAGSVC = [name for name, service in SERVICES.items() if service.get("image") == "ragsvc"]
API = [name for name in RAGSVC if "command" not in SERVICES[name]]  # the image's: serve
WORKERS = [name for name in RAGSVC if SERVICES[name].get("command") == ["ragsvc", "worker"]]


def test_every_setting_the_compose_file_passes_exists_and_holds_together():
    for name in RAGSVC:
        passed = SERVICES[name]["environment"]
        assert set(passed) <= KNOWN, set(passed) - KNOWN
        Settings(**{key.removeprefix("RAGSVC_").lower(): value for key, value in passed.items()})


def test_api_replicas_and_worker_share_postgres_and_redis_and_are_health_checked():
    assert len(API) >= 2 and len(WORKERS) == 1 and set(API) | set(WORKERS) == set(RAGSVC)
    for name in RAGSVC:
        service = SERVICES[name]
        environment = service["environment"]
        assert "/readyz" in " ".join(service["healthcheck"]["test"])
        assert environment["RAGSVC_STORE"] == "postgres"
        assert "@postgres:5432/" in environment["RAGSVC_DATABASE_URL"]
        assert environment["RAGSVC_REDIS_URL"].startswith("redis://redis:")
        assert environment["RAGSVC_INGEST_QUEUE"] == "redis"
        assert service["read_only"] and "/tmp" in service["tmpfs"]  # as the container test runs it
        assert set(service["depends_on"]) == {"postgres", "redis"}
        for needed, condition in service["depends_on"].items():
            assert condition == {"condition": "service_healthy"}
            assert "healthcheck" in SERVICES[needed]
    for engine in ("postgres", "redis"):  # what they hold outlives a container
        assert any(v.split(":")[0] in COMPOSE["volumes"] for v in SERVICES[engine]["volumes"])


def test_the_proxy_sends_to_the_api_services():
    proxy = next(s for s in SERVICES.values() if str(s.get("image", "")).startswith("nginx"))
    mounted = [v.split(":")[0] for v in proxy["volumes"]]
    assert "./nginx.conf" in mounted and (DOCKER / "nginx.conf").exists()
    upstreams = re.findall(r"(?m)^\s+server (\w+):8000;", (DOCKER / "nginx.conf").read_text())
    assert sorted(upstreams) == sorted(API)
    assert set(proxy["depends_on"]) == set(API)


def test_the_kubernetes_manifests_pass_only_real_settings_that_hold_together():
    assert set(K8S) >= {"Service", "HorizontalPodAutoscaler", "ConfigMap", "Secret"}
    assert set(DEPLOYMENTS) == {"ragsvc-api", "ragsvc-worker"}
    passed = {**K8S["ConfigMap"]["data"], **K8S["Secret"]["stringData"]}
    assert set(passed) <= KNOWN, set(passed) - KNOWN
    settings = Settings(**{k.removeprefix("RAGSVC_").lower(): v for k, v in passed.items()})
    assert settings.store == "postgres" and settings.ingest_queue == "redis"


@pytest.mark.parametrize("name", ["ragsvc-api", "ragsvc-worker"])
def test_the_kubernetes_pods_are_probed_and_locked_down(name: str):
    pod = DEPLOYMENTS[name]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["image"].startswith("ragsvc")
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] == 10001
    assert container["securityContext"]["readOnlyRootFilesystem"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]  # writable /tmp on a read-only root
    assert container["envFrom"] == [
        {"configMapRef": {"name": K8S["ConfigMap"]["metadata"]["name"]}},
        {"secretRef": {"name": K8S["Secret"]["metadata"]["name"]}},
    ]
    command = container.get("args", ["ragsvc", "serve"])  # the image's CMD: serve
    assert command == ["ragsvc", "worker" if name == "ragsvc-worker" else "serve"]


def test_the_kubernetes_service_and_autoscaler_target_the_api():
    deployment = DEPLOYMENTS["ragsvc-api"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert K8S["Service"]["spec"]["selector"].items() <= labels.items()
    target = K8S["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
