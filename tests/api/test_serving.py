"""uvicorn's options: forwarded headers believed only from the configured proxies, the
guarded protocol (which uvicorn resolves), ragsvc's own logging, the proxy's path."""

from __future__ import annotations

from uvicorn import Config
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from ragsvc.api.serving import GuardedHttpProtocol, ServerLimits, uvicorn_options
from ragsvc.core.config import Settings
from tests.support.asgi import echo


def test_forwarded_headers_are_believed_only_from_trusted_proxies():
    options = uvicorn_options(Settings(trusted_proxies=["10.0.0.1", "10.0.0.2"]))
    assert options["proxy_headers"] is True
    assert options["forwarded_allow_ips"] == "10.0.0.1,10.0.0.2"
    config = Config(echo, **options)
    config.load()
    assert isinstance(config.loaded_app, ProxyHeadersMiddleware)
    untrusted = uvicorn_options(Settings())
    assert untrusted["proxy_headers"] is False and untrusted["forwarded_allow_ips"] is None


def test_uvicorn_serves_with_the_guarded_protocol_and_ragsvcs_logging():
    options = uvicorn_options(Settings(root_path="/rag"))
    assert (options["access_log"], options["log_config"], options["root_path"]) == (
        False,
        None,
        "/rag",
    )
    config = Config(echo, **options)
    config.load()
    assert config.http_protocol_class is GuardedHttpProtocol


def test_the_server_limits_are_the_settings():
    settings = Settings(
        max_connections=7,
        header_timeout_s=3,
        body_timeout_s=9,
        max_connections_per_address=2,
        trusted_proxies="10.1.0.0/16,proxy.local",
    )
    limits = ServerLimits.of(settings)
    assert limits == ServerLimits(7, 3, 9, 2, ("10.1.0.0/16", "proxy.local"))


def test_trusted_proxies_are_not_held_to_the_cap_per_address():
    limits = ServerLimits(7, 3, 9, per_address=2, trusted=("10.1.0.0/16", "proxy.local"))
    assert limits.capped("192.0.2.7") and limits.capped("proxy.local.evil")
    assert not limits.capped("10.1.200.3") and not limits.capped("proxy.local")
    assert not ServerLimits(7, 3, 9, per_address=0).capped("192.0.2.7")
    assert not ServerLimits(7, 3, 9, per_address=2, trusted=("*",)).capped("192.0.2.7")
