"""docker/compose.yaml, docker/nginx.conf and deploy/k8s hold together and match the code:
every setting they pass exists, the API is health-checked on /readyz and /healthz, shares
one volume and Redis, runs as its non-root user on a read-only root filesystem, and the
proxy, Service and autoscaler point at it."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from ragsvc.config import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
KNOWN = {f"RAGSVC_{name.upper()}" for name in Settings.model_fields}
K8S = {
    doc["kind"]: doc
    for path in sorted((ROOT / "deploy" / "k8s").glob("*.yaml"))
    for doc in yaml.safe_load_all(path.read_text())
}
COMPOSE = yaml.safe_load((DOCKER / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
API = [name for name, service in SERVICES.items() if service.get("image") == "ragsvc"]


def test_every_setting_the_compose_file_passes_exists():
    for name in API:
        passed = set(SERVICES[name]["environment"])
        assert passed <= KNOWN, passed - KNOWN


def test_api_replicas_share_a_volume_and_redis_and_are_health_checked():
    assert len(API) >= 2
    for name in API:
        service = SERVICES[name]
        assert "/readyz" in " ".join(service["healthcheck"]["test"])
        assert service["volumes"] == ["ragsvc-data:/data"] and "ragsvc-data" in COMPOSE["volumes"]
        assert service["environment"]["RAGSVC_REDIS_URL"].startswith("redis://redis:")
        assert service["read_only"] and "/tmp" in service["tmpfs"]  # as the container test runs it
        for needed, condition in service["depends_on"].items():
            assert condition == {"condition": "service_healthy"}
            assert "healthcheck" in SERVICES[needed]


def test_the_proxy_sends_to_the_api_services():
    proxy = next(s for s in SERVICES.values() if str(s.get("image", "")).startswith("nginx"))
    mounted = [v.split(":")[0] for v in proxy["volumes"]]
    assert "./nginx.conf" in mounted and (DOCKER / "nginx.conf").exists()
    upstreams = re.findall(r"(?m)^\s+server (\w+):8000;", (DOCKER / "nginx.conf").read_text())
    assert sorted(upstreams) == sorted(API)
    assert set(proxy["depends_on"]) == set(API)


def test_the_kubernetes_manifests_pass_only_real_settings():
    assert set(K8S) >= {"Deployment", "Service", "HorizontalPodAutoscaler", "ConfigMap", "Secret"}
    passed = set(K8S["ConfigMap"]["data"]) | set(K8S["Secret"]["stringData"])
    assert passed <= KNOWN, passed - KNOWN
    assert "RAGSVC_REDIS_URL" in passed  # several pods: resumes and limits need Redis


def test_the_kubernetes_api_pods_are_probed_and_locked_down():
    pod = K8S["Deployment"]["spec"]["template"]["spec"]
    [api] = pod["containers"]
    assert api["image"].startswith("ragsvc")
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["resources"]["requests"] and api["resources"]["limits"]["memory"]
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] == 10001
    assert api["securityContext"]["readOnlyRootFilesystem"]
    mounts = {m["mountPath"]: m["name"] for m in api["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]  # writable /tmp on a read-only root
    claim = volumes[mounts["/data"]]["persistentVolumeClaim"]["claimName"]
    assert K8S["PersistentVolumeClaim"]["metadata"]["name"] == claim
    assert K8S["PersistentVolumeClaim"]["spec"]["accessModes"] == ["ReadWriteMany"]
    assert api["envFrom"] == [
        {"configMapRef": {"name": K8S["ConfigMap"]["metadata"]["name"]}},
        {"secretRef": {"name": K8S["Secret"]["metadata"]["name"]}},
    ]


def test_the_kubernetes_service_and_autoscaler_target_the_api():
    deployment = K8S["Deployment"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert K8S["Service"]["spec"]["selector"].items() <= labels.items()
    target = K8S["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
