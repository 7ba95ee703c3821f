"""Settings validation: the combinations that cannot work are refused at start with the
variable to fix named, comma-separated lists are split, the OpenAI client's own variables
count, the worker's probes have a port of their own. The environment of the test process is
cleared first: only what a test sets counts."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from ragsvc.core.config import Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("RAGSVC_", "OPENAI_")) or name in ("HOST", "PORT"):
            monkeypatch.delenv(name)


REDIS = {"redis_url": "redis://127.0.0.1:6379"}
POSTGRES = {"store": "postgres", "database_url": "postgresql://127.0.0.1/ragsvc"}


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"chunk_size": 1000, "chunk_overlap": 500}, "RAGSVC_CHUNK_OVERLAP"),
        ({"ingest_queue": "redis", **POSTGRES}, "RAGSVC_INGEST_QUEUE=redis needs RAGSVC_REDIS"),
        ({"ingest_queue": "redis", **REDIS}, "RAGSVC_STORE=postgres"),
        ({"store": "postgres"}, "RAGSVC_STORE=postgres needs RAGSVC_DATABASE_URL"),
        ({"embedder": "openai"}, "OPENAI_API_KEY"),
        ({"generator": "openai"}, "OPENAI_BASE_URL"),
    ],
)
def test_incoherent_settings_are_refused_naming_what_to_set(settings: dict, named: str):
    with pytest.raises(ValidationError, match=named):
        Settings(**settings)


@pytest.mark.parametrize(
    "settings",
    [
        {"chunk_size": 1000, "chunk_overlap": 499},
        {"ingest_queue": "redis", **REDIS, **POSTGRES},
        {"embedder": "openai", "openai_api_key": "sk-test"},
        {"generator": "openai", "openai_base_url": "http://127.0.0.1:8080/v1"},
    ],
)
def test_the_coherent_neighbours_are_accepted(settings: dict):
    Settings(**settings)


def test_the_openai_clients_own_variables_are_read(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8080/v1")
    settings = Settings(embedder="openai", generator="openai")
    assert settings.openai_api_key is not None
    assert settings.openai_api_key.get_secret_value() == "sk-from-env"
    assert settings.openai_base_url == "http://127.0.0.1:8080/v1"


def test_lists_are_read_comma_separated_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RAGSVC_API_KEYS", " key-one , ,key-two,")
    monkeypatch.setenv("RAGSVC_CORS_ORIGINS", "https://a.example,https://b.example")
    monkeypatch.setenv("RAGSVC_TRUSTED_PROXIES", "10.0.0.1")
    settings = Settings()
    assert [key.get_secret_value() for key in settings.api_keys] == ["key-one", "key-two"]
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.trusted_proxies == ["10.0.0.1"]


def test_lists_are_split_when_given_as_strings_and_kept_when_given_as_lists():
    settings = Settings(cors_origins="https://a.example, https://b.example", trusted_proxies=[])
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.trusted_proxies == [] and settings.api_keys == []
    assert Settings(trusted_proxies=["10.0.0.1", "10.0.0.2"]).trusted_proxies == [
        "10.0.0.1",
        "10.0.0.2",
    ]


def test_the_upload_limit_is_counted_in_bytes():
    assert Settings(max_upload_mb=1.5).max_upload_bytes == 1_572_864


def test_the_worker_probes_have_a_port_of_their_own_beside_serve():
    settings = Settings()
    assert (settings.port, settings.worker_port) == (8000, 8001)


def test_a_worker_given_only_port_keeps_its_probes_there(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PORT", "9000")  # the image sets it; deployments from before set it
    assert Settings().worker_port == 9000
    monkeypatch.setenv("RAGSVC_WORKER_PORT", "9001")
    assert (Settings().port, Settings().worker_port) == (9000, 9001)
