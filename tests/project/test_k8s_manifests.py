"""deploy/k8s as `kubectl apply -f deploy/k8s/` takes it (its .yaml, .yml and .json files),
checked without a cluster: the settings it passes exist and hold together; no Secret with
example values is applied, and the pods name the real one's keys; the pods meet the restricted
Pod Security Standard, are probed, drain before they are killed, spread over nodes and zones,
are covered by a disruption budget and network policies, and the API pods are scraped; the
Ingress streams SSE; the image is pyproject's version, which `make image` tags."""

from __future__ import annotations

import ipaddress
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from ragsvc.core.config import Settings
from tests.support.paths import ROOT

K8S = ROOT / "deploy" / "k8s"
APPLIED_FILES = sorted(p for p in K8S.iterdir() if p.suffix in {".yaml", ".yml", ".json"})
APPLIED = [doc for p in APPLIED_FILES for doc in yaml.safe_load_all(p.read_text()) if doc]
SECRET_EXAMPLE = yaml.safe_load((K8S / "secret.yaml.example").read_text())
KNOWN = {f"RAGSVC_{name.upper()}" for name in Settings.model_fields}
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
PODS = ["ragsvc-api", "ragsvc-worker"]
WORKER_SCRAPES = [{"protocol": "TCP", "port": 8001}]  # the worker's probe port


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in APPLIED if doc["kind"] == kind}


DEPLOYMENTS = of_kind("Deployment")
[CONFIG] = of_kind("ConfigMap").values()
[SERVICE] = of_kind("Service").values()


def pod(name: str) -> dict[str, Any]:
    return DEPLOYMENTS[name]["spec"]["template"]["spec"]


def container(name: str) -> dict[str, Any]:
    [only] = pod(name)["containers"]
    return only


def labels(name: str) -> dict[str, str]:
    return DEPLOYMENTS[name]["spec"]["template"]["metadata"]["labels"]


def selects(selector: dict[str, Any], name: str) -> bool:
    return selector["matchLabels"].items() <= labels(name).items()


def settings(extra: dict[str, str] | None = None) -> Settings:
    passed = {**CONFIG["data"], **SECRET_EXAMPLE["stringData"], **(extra or {})}
    return Settings(**{k.removeprefix("RAGSVC_").lower(): v for k, v in passed.items()})


def test_the_manifests_pass_only_real_settings_that_hold_together():
    assert set(DEPLOYMENTS) == set(PODS)
    assert set(CONFIG["data"]) | set(SECRET_EXAMPLE["stringData"]) <= KNOWN
    configured = settings()
    assert configured.store == "postgres" and configured.ingest_queue == "redis"
    assert configured.drain_s == 30


def test_no_example_secret_is_applied_and_the_pods_need_the_real_one():
    assert "Secret" not in {doc["kind"] for doc in APPLIED}
    assert not any("change-me" in p.read_text() for p in APPLIED_FILES)
    assert SECRET_EXAMPLE["kind"] == "Secret"
    secret, keys = SECRET_EXAMPLE["metadata"]["name"], set(SECRET_EXAMPLE["stringData"])
    needed = {"ragsvc-api": keys, "ragsvc-worker": {"RAGSVC_DATABASE_URL", "RAGSVC_REDIS_URL"}}
    for name in PODS:
        # envFrom a Secret would start a pod whose Secret lacks a key (say, the API keys)
        assert container(name)["envFrom"] == [
            {"configMapRef": {"name": CONFIG["metadata"]["name"]}}
        ]
        refs = [e["valueFrom"]["secretKeyRef"] for e in container(name)["env"] if "valueFrom" in e]
        assert {ref["name"] for ref in refs} == {secret}
        assert not any(ref.get("optional") for ref in refs)
        assert {ref["key"] for ref in refs} == needed[name]


@pytest.mark.parametrize("name", PODS)
def test_the_pods_meet_the_restricted_pod_security_standard(name: str):
    spec, box = pod(name), container(name)
    assert spec["securityContext"]["runAsNonRoot"] and spec["securityContext"]["runAsUser"] == 10001
    seccomp = box["securityContext"].get(
        "seccompProfile", spec["securityContext"].get("seccompProfile")
    )
    assert seccomp == {"type": "RuntimeDefault"}
    assert box["securityContext"]["allowPrivilegeEscalation"] is False
    assert box["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert box["securityContext"]["readOnlyRootFilesystem"] is True
    assert not box["securityContext"].get("privileged")
    assert not any(spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC"))
    assert not any("hostPort" in port for port in box["ports"])
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert all(set(v) <= {"name", "emptyDir", "configMap", "secret"} for v in volumes.values())
    mounts = {m["mountPath"]: m["name"] for m in box["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]  # writable /tmp on a read-only root
    # The Service "ragsvc" would set RAGSVC_PORT=tcp://...:80, which ragsvc reads as its port.
    assert spec["enableServiceLinks"] is False


@pytest.mark.parametrize("name", PODS)
def test_the_pods_run_their_command_and_are_probed(name: str):
    box = container(name)
    assert "command" not in box  # it would replace the image's entrypoint, `ragsvc`
    assert box["args"] == ["worker" if name == "ragsvc-worker" else "serve"]
    assert box["startupProbe"]["httpGet"]["path"] == "/healthz"
    startup = box["startupProbe"]["periodSeconds"] * box["startupProbe"]["failureThreshold"]
    assert startup >= 60  # models and migrations, before liveness may restart it
    assert box["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert box["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert "initialDelaySeconds" not in box["livenessProbe"]  # the startup probe's job
    assert box["resources"]["requests"] and box["resources"]["limits"]["memory"]


def test_each_pod_is_probed_on_the_port_it_listens_on():
    # The image sets PORT; a worker's probes take RAGSVC_WORKER_PORT (PORT only without it).
    image_port = re.search(r"\bPORT=(\d+)", (ROOT / "docker" / "Dockerfile").read_text())
    assert image_port
    for name in PODS:
        box = container(name)
        passed = {e["name"]: e["value"] for e in box["env"] if "value" in e}
        listening = settings({"PORT": image_port[1], **passed})
        port = listening.worker_port if name == "ragsvc-worker" else listening.port
        declared = {p["name"]: p["containerPort"] for p in box["ports"]}
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert declared.get(box[probe]["httpGet"]["port"]) == port, (name, probe)


def test_api_pods_leave_the_endpoints_then_drain_before_they_are_killed():
    hook = container("ragsvc-api")["lifecycle"]["preStop"]["exec"]["command"]
    assert hook[0] == "sleep" and 3 <= float(hook[1]) <= 15
    drain = settings().drain_s
    grace = pod("ragsvc-api")["terminationGracePeriodSeconds"]
    assert grace >= float(hook[1]) + drain + 5, "SIGKILL would cut the drain short"
    assert pod("ragsvc-worker")["terminationGracePeriodSeconds"] >= 60  # a running ingest


@pytest.mark.parametrize("name", PODS)
def test_the_pods_spread_over_nodes(name: str):
    spread = pod(name)["topologySpreadConstraints"]
    keys = {c["topologyKey"] for c in spread if selects(c["labelSelector"], name)}
    assert "kubernetes.io/hostname" in keys
    # DoNotSchedule would leave pods pending on a cluster with fewer nodes or zones
    assert all(c["whenUnsatisfiable"] == "ScheduleAnyway" for c in spread)


def test_a_disruption_budget_keeps_api_pods_serving_through_a_node_drain():
    [budget] = of_kind("PodDisruptionBudget").values()
    assert selects(budget["spec"]["selector"], "ragsvc-api")
    assert not selects(budget["spec"]["selector"], "ragsvc-worker")
    [autoscaler] = of_kind("HorizontalPodAutoscaler").values()
    least = autoscaler["spec"]["minReplicas"]
    if "maxUnavailable" in budget["spec"]:
        assert 1 <= budget["spec"]["maxUnavailable"] < least
    else:  # a drain must still be possible
        assert 1 <= budget["spec"]["minAvailable"] < least


def test_network_policies_let_only_the_ingress_controller_and_prometheus_in():
    policies = list(of_kind("NetworkPolicy").values())
    for name in PODS:
        assert any(selects(p["spec"]["podSelector"], name) for p in policies), name
    for policy in policies:
        assert policy["spec"]["policyTypes"] == ["Ingress"]  # outgoing: PostgreSQL, Redis, LLM
        for rule in policy["spec"]["ingress"]:
            assert rule["from"] and all(set(peer) == {"namespaceSelector"} for peer in rule["from"])
            assert rule["ports"] in ([{"protocol": "TCP", "port": 8000}], WORKER_SCRAPES)
    [api] = [p for p in policies if selects(p["spec"]["podSelector"], "ragsvc-api")]
    [worker] = [p for p in policies if selects(p["spec"]["podSelector"], "ragsvc-worker")]
    namespaces = {
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for rule in api["spec"]["ingress"]
        for peer in rule["from"]
    }
    assert namespaces == {"ingress-nginx", "monitoring"}
    # nothing but the kubelet's probes and Prometheus's scrapes
    assert [rule["ports"] for rule in worker["spec"]["ingress"]] == [WORKER_SCRAPES]
    assert [
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for peer in worker["spec"]["ingress"][0]["from"]
    ] == ["monitoring"]


def test_the_ingress_streams_sse_and_takes_whole_uploads():
    [ingress] = of_kind("Ingress").values()
    notes = {
        k.removeprefix("nginx.ingress.kubernetes.io/"): v
        for k, v in ingress["metadata"]["annotations"].items()
    }
    assert notes["proxy-buffering"] == "off" and notes["proxy-request-buffering"] == "off"
    assert int(notes["proxy-read-timeout"]) >= 3600 and int(notes["proxy-send-timeout"]) >= 3600
    body = re.fullmatch(r"(\d+)m", notes["proxy-body-size"])
    assert body and int(body[1]) > settings().max_upload_mb
    [rule] = ingress["spec"]["rules"]
    [path] = rule["http"]["paths"]
    backend = path["backend"]["service"]
    assert backend["name"] == SERVICE["metadata"]["name"]
    assert backend["port"]["name"] in {port["name"] for port in SERVICE["spec"]["ports"]}


@pytest.mark.parametrize("name", PODS)
def test_prometheus_scrapes_every_pod_where_its_metrics_are_served(name: str):
    notes = DEPLOYMENTS[name]["spec"]["template"]["metadata"]["annotations"]
    assert notes["prometheus.io/scrape"] == "true" and notes["prometheus.io/path"] == "/metrics"
    assert int(notes["prometheus.io/port"]) == container(name)["ports"][0]["containerPort"]
    assert settings().metrics


def test_forwarded_addresses_are_believed_from_a_narrow_range_only():
    for proxy in settings().trusted_proxies:  # 10.0.0.0/8 would believe any pod
        assert proxy != "*" and ipaddress.ip_network(proxy, strict=False).num_addresses <= 2**16


def test_the_image_is_pyprojects_version_which_make_image_tags():
    for name in PODS:
        assert container(name)["image"] == f"ragsvc:{VERSION}"
    makefile = (ROOT / "Makefile").read_text()
    assert "-t $(IMAGE):$(VERSION)" in makefile
    read = re.search(r"^VERSION := \$\(shell (.+)\)$", makefile, flags=re.MULTILINE)
    assert read and "pyproject.toml" in read[1]


def test_the_service_and_autoscaler_target_the_api():
    assert SERVICE["spec"]["selector"].items() <= labels("ragsvc-api").items()
    target = of_kind("HorizontalPodAutoscaler")["ragsvc-api"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "ragsvc-api")


def test_every_applied_file_is_named_in_the_deploy_doc():
    deploy_doc = (ROOT / "docs" / "deploy.md").read_text()
    for path in [*APPLIED_FILES, K8S / "secret.yaml.example"]:
        assert f"`{Path(path).name}`" in deploy_doc, path.name
