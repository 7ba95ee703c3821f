"""docker/compose.yaml and docker/nginx.conf hold together and match the code: every setting
they pass exists, the API services are health-checked on /readyz and share one volume and
Redis, and the proxy's upstreams are those services."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from ragsvc.config import Settings

DOCKER = Path(__file__).resolve().parents[1] / "docker"
COMPOSE = yaml.safe_load((DOCKER / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
API = [name for name, service in SERVICES.items() if service.get("image") == "ragsvc"]


def test_every_setting_the_compose_file_passes_exists():
    known = {f"RAGSVC_{name.upper()}" for name in Settings.model_fields}
    for name in API:
        passed = set(SERVICES[name]["environment"])
        assert passed <= known, passed - known


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
