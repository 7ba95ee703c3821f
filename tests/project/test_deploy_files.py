"""docker/ holds together and matches the code: every setting compose.yaml passes exists and
makes a valid configuration, the API replicas and the worker share PostgreSQL and Redis and
are health-checked on /readyz, nginx's upstreams are the API services, and the Dockerfile runs
ragsvc as its entrypoint, with bytecode compiled in, leaving out only what ragsvc never
imports. deploy/k8s is checked by test_k8s_manifests.py."""

from __future__ import annotations

import re

import yaml

from ragsvc.core.config import Settings
from tests.support.paths import ROOT

DOCKER = ROOT / "docker"
DOCKERFILE = (DOCKER / "Dockerfile").read_text()
KNOWN = {f"RAGSVC_{name.upper()}" for name in Settings.model_fields}
COMPOSE = yaml.safe_load((DOCKER / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
RAGSVC = [name for name, service in SERVICES.items() if service.get("image") == "ragsvc"]
API = [name for name in RAGSVC if "command" not in SERVICES[name]]  # the image's CMD: serve
# the image's entrypoint is `ragsvc`: a command names the subcommand alone
WORKERS = [name for name in RAGSVC if SERVICES[name].get("command") == ["worker"]]


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
    upstreams = re.findall(r"(?m)^\s+server (\w+):8000\b", (DOCKER / "nginx.conf").read_text())
    assert sorted(upstreams) == sorted(API)
    assert set(proxy["depends_on"]) == set(API)


def test_the_proxy_fails_over_only_what_is_safe_to_send_again():
    site = (DOCKER / "nginx.conf").read_text()
    [retried] = re.findall(r"(?m)^\s+proxy_next_upstream (.+);", site)
    assert {"error", "timeout", "http_502", "http_503", "http_504"} <= set(retried.split())
    assert "non_idempotent" not in retried  # a POST (an upload, a question) is never sent twice
    servers = re.findall(r"(?m)^\s+server \w+:8000(.*);", site)
    assert all("max_fails=" in s and "fail_timeout=" in s for s in servers)  # taken out a while


def test_each_service_is_health_checked_on_the_port_it_listens_on():
    image_port = re.search(r"\bPORT=(\d+)", DOCKERFILE)  # what a worker took before its own
    assert image_port
    for name in RAGSVC:
        passed = {
            k.removeprefix("RAGSVC_").lower(): v for k, v in SERVICES[name]["environment"].items()
        }
        listening = Settings(**{"port": image_port[1], **passed})
        port = listening.worker_port if name in WORKERS else listening.port
        assert f"//127.0.0.1:{port}/readyz" in " ".join(SERVICES[name]["healthcheck"]["test"])


def test_the_image_runs_ragsvc_with_serve_as_its_default_command():
    # with CMD alone, `docker run IMAGE --help` would try to run a program named --help
    assert DOCKERFILE.count("ENTRYPOINT") == 1 and DOCKERFILE.count("\nCMD") == 1
    assert 'ENTRYPOINT ["ragsvc"]' in DOCKERFILE and 'CMD ["serve"]' in DOCKERFILE
    assert all(SERVICES[name].get("entrypoint") is None for name in RAGSVC)


def test_the_image_ships_compiled_bytecode_for_dependencies_and_ragsvc():
    # a read-only image without .pyc files compiles every module again at each start
    compiled = re.findall(
        r"python -m compileall .*--invalidation-mode unchecked-hash (\S+)", DOCKERFILE
    )
    assert len(compiled) == 2 and "/opt/ragsvc-app" in compiled
    assert "PYTHONDONTWRITEBYTECODE=1" in DOCKERFILE


def test_what_the_image_leaves_out_is_locked_and_never_imported_by_ragsvc():
    lock = (ROOT / "requirements.lock").read_text().lower()
    names = [
        line.split("#")[0].strip()
        for line in (DOCKER / "not-shipped.txt").read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    assert {"huggingface-hub", "hf-xet", "onnxruntime"} <= set(names)
    source = "\n".join(p.read_text() for p in (ROOT / "src" / "ragsvc").rglob("*.py"))
    for name in names:
        assert f"\n{name}==" in lock, f"{name} is not in requirements.lock: drop it from the list"
        module = name.replace("-", "_")
        assert not re.search(rf"^\s*(import|from) {module}\b", source, flags=re.MULTILINE), name
